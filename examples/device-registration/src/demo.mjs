// `pnpm demo`: 50 devices of one system register at the same moment, first without a lock,
// then under dlock's embedded memory backend. Exits non-zero if the locked run is wrong.
import { randomUUID } from 'node:crypto';
import { LockService, MemoryLock } from '@dlock/core';
import { registerDevice, registerDeviceLocked } from './register.mjs';
import { SystemStore } from './system-store.mjs';

const DEVICES = 50;

async function burst(label, register) {
  const store = new SystemStore();
  const systemUUID = randomUUID();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: DEVICES }, (_, i) => register(store, { systemUUID, machineId: `machine-${i}` })),
  );
  const ms = performance.now() - started;
  const systems = store.countSystems(systemUUID);
  const machines = store.records.reduce((n, r) => n + r.machines.length, 0);
  console.log(
    `${label.padEnd(22)} system records: ${String(systems).padStart(2)}   machines registered: ${machines}   ${ms.toFixed(0)} ms`,
  );
  return { systems, machines };
}

console.log(`${DEVICES} devices of one system register concurrently (check-then-insert):\n`);
await burst('no lock', registerDevice);
const locks = new LockService(new MemoryLock());
const locked = await burst('dlock MemoryLock', (store, device) => registerDeviceLocked(locks, store, device));
await locks.close();

if (locked.systems !== 1 || locked.machines !== DEVICES) {
  console.error(`\nFAIL: expected exactly 1 system record and ${DEVICES} machines under the lock`);
  process.exit(1);
}
console.log('\nUnder the lock: exactly one system record, every machine registered once.');

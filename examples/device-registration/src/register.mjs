// The registration handler from the original incident: check, then insert. Two devices of one
// system arriving together both see "no system yet" and both create one, unless a lock on the
// systemUUID makes the check-then-insert exclusive.

/** Registers `machineId` under `systemUUID`, creating the system record on first sight. */
export async function registerDevice(store, { systemUUID, machineId }) {
  const existing = await store.findSystem(systemUUID);
  const system = existing ?? (await store.createSystem(systemUUID));
  await store.addMachine(system, machineId);
  return system.id;
}

/** The same handler, exclusive per system through any dlock `LockService`. */
export function registerDeviceLocked(locks, store, device, { ttl = 5_000, waitTimeout = 10_000 } = {}) {
  return locks.withLock(`register:${device.systemUUID}`, () => registerDevice(store, device), {
    ttl,
    waitTimeout,
  });
}

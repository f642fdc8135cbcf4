// A stand-in for the central database: system records keyed by systemUUID, with the latency of a
// real round trip. Deliberately no unique constraint: only a lock prevents duplicates.
import { setTimeout as sleep } from 'node:timers/promises';

export class SystemStore {
  /** @type {Array<{ id: number, systemUUID: string, machines: string[] }>} */
  records = [];
  #nextId = 1;

  constructor({ latencyMs = 2 } = {}) {
    this.latencyMs = latencyMs;
  }

  get description() {
    return `in-process table, 0-${this.latencyMs} ms per round trip (set DATABASE_URL to use PostgreSQL)`;
  }

  async #roundTrip() {
    await sleep(Math.random() * this.latencyMs);
  }

  async findSystem(systemUUID) {
    await this.#roundTrip();
    return this.records.find((r) => r.systemUUID === systemUUID) ?? null;
  }

  async createSystem(systemUUID) {
    await this.#roundTrip();
    const record = { id: this.#nextId++, systemUUID, machines: [] };
    this.records.push(record);
    return record;
  }

  async addMachine(record, machineId) {
    await this.#roundTrip();
    record.machines.push(machineId);
  }

  countSystems(systemUUID) {
    return this.records.filter((r) => r.systemUUID === systemUUID).length;
  }

  /** System records and machines stored for one systemUUID. */
  async summary(systemUUID) {
    const records = this.records.filter((r) => r.systemUUID === systemUUID);
    return { systems: records.length, machines: records.reduce((n, r) => n + r.machines.length, 0) };
  }

  async close() {}
}

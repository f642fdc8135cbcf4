// The same store on a real PostgreSQL table (DATABASE_URL). Like the original schema that lost
// the race, `system_uuid` has no unique constraint: only the lock keeps it to one row per system.
// Each run uses fresh random systemUUIDs and deletes its own rows at the end.

const schema = `
  CREATE TABLE IF NOT EXISTS dlock_example_systems (
    id          bigserial PRIMARY KEY,
    system_uuid uuid NOT NULL,           -- deliberately NOT unique
    created_at  timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX IF NOT EXISTS dlock_example_systems_uuid ON dlock_example_systems (system_uuid);
  CREATE TABLE IF NOT EXISTS dlock_example_machines (
    system_id  bigint NOT NULL REFERENCES dlock_example_systems (id) ON DELETE CASCADE,
    machine_id text   NOT NULL
  );
`;

export class PgSystemStore {
  #pool;
  #uuids = new Set();

  constructor(pool, description) {
    this.#pool = pool;
    this.description = description;
  }

  /** Connects (a pool of `max` connections), creates the tables if missing. */
  static async connect(connectionString, { max = 10 } = {}) {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5_000 });
    pool.on('error', () => {}); // an idle client's error surfaces on the next query instead
    await pool.query(schema);
    const { rows } = await pool.query('SHOW server_version');
    const where = new URL(connectionString);
    return new PgSystemStore(
      pool,
      `PostgreSQL ${rows[0].server_version} at ${where.host}${where.pathname}, table dlock_example_systems (pool of ${max})`,
    );
  }

  async findSystem(systemUUID) {
    const { rows } = await this.#pool.query(
      'SELECT id FROM dlock_example_systems WHERE system_uuid = $1 ORDER BY id LIMIT 1',
      [systemUUID],
    );
    return rows[0] ?? null;
  }

  async createSystem(systemUUID) {
    this.#uuids.add(systemUUID);
    const { rows } = await this.#pool.query(
      'INSERT INTO dlock_example_systems (system_uuid) VALUES ($1) RETURNING id',
      [systemUUID],
    );
    return rows[0];
  }

  async addMachine(system, machineId) {
    await this.#pool.query('INSERT INTO dlock_example_machines (system_id, machine_id) VALUES ($1, $2)', [
      system.id,
      machineId,
    ]);
  }

  async summary(systemUUID) {
    const { rows } = await this.#pool.query(
      `SELECT (SELECT count(*) FROM dlock_example_systems WHERE system_uuid = $1)::int AS systems,
              (SELECT count(*) FROM dlock_example_machines m JOIN dlock_example_systems s ON s.id = m.system_id
                WHERE s.system_uuid = $1)::int AS machines`,
      [systemUUID],
    );
    return rows[0];
  }

  /** Deletes this run's rows (machines go with them) and closes the pool. */
  async close() {
    try {
      if (this.#uuids.size > 0) {
        await this.#pool.query('DELETE FROM dlock_example_systems WHERE system_uuid = ANY($1::uuid[])', [[...this.#uuids]]);
      }
    } finally {
      await this.#pool.end();
    }
  }
}

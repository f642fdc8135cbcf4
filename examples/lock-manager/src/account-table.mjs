// The protected resource: an accounts table whose writes carry the writer's fencing token.
// The database, not the lock, has the last word: a write is applied only if its token is
// higher than the one stored with the row, so a holder whose lock ran out cannot overwrite the
// work of the holder after it, however late its write arrives.
import { setTimeout as sleep } from 'node:timers/promises';

/** The statement both tables run (PostgreSQL literally, the in-process model by hand). */
export const fencedUpdate = 'UPDATE accounts SET balance = $1, fence = $2 WHERE id = $3 AND fence < $2';

/** An in-process model of the table that enforces `fence < $2` exactly as the SQL does. */
export class AccountTable {
  description = 'in-process accounts table (set DATABASE_URL to use PostgreSQL)';
  /** @type {Map<number, { balance: number, fence: bigint }>} */
  #rows = new Map();

  /** Creates (or resets) an account with no writes seen yet: fence 0. */
  async reset(id, balance) {
    this.#rows.set(id, { balance, fence: 0n });
  }

  async get(id) {
    await sleep(1); // a round trip
    const row = this.#rows.get(id);
    return row && { id, ...row };
  }

  /** `UPDATE accounts SET balance = $1, fence = $2 WHERE id = $3 AND fence < $2`; resolves to the row count. */
  async update(id, balance, fence) {
    await sleep(1);
    const row = this.#rows.get(id);
    if (row === undefined || !(row.fence < fence)) return 0;
    row.balance = balance;
    row.fence = fence;
    return 1;
  }

  async close() {}
}

/** The same table in PostgreSQL (DATABASE_URL). `fence` is numeric: tokens are unsigned 64-bit. */
export class PgAccountTable {
  #pool;

  constructor(pool, description) {
    this.#pool = pool;
    this.description = description;
  }

  static async connect(connectionString) {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString, max: 4, connectionTimeoutMillis: 5_000 });
    pool.on('error', () => {});
    await pool.query(`CREATE TABLE IF NOT EXISTS dlock_example_accounts (
      id      bigint PRIMARY KEY,
      balance bigint NOT NULL,
      fence   numeric(20) NOT NULL DEFAULT 0
    )`);
    const { rows } = await pool.query('SHOW server_version');
    const where = new URL(connectionString);
    return new PgAccountTable(pool, `PostgreSQL ${rows[0].server_version} at ${where.host}${where.pathname}, table dlock_example_accounts`);
  }

  async reset(id, balance) {
    await this.#pool.query(
      `INSERT INTO dlock_example_accounts (id, balance, fence) VALUES ($1, $2, 0)
       ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, fence = 0`,
      [id, balance],
    );
  }

  async get(id) {
    const { rows } = await this.#pool.query('SELECT balance, fence FROM dlock_example_accounts WHERE id = $1', [id]);
    return rows[0] && { id, balance: Number(rows[0].balance), fence: BigInt(rows[0].fence) };
  }

  async update(id, balance, fence) {
    const { rowCount } = await this.#pool.query(
      fencedUpdate.replace('accounts', 'dlock_example_accounts'),
      [balance, fence.toString(), id],
    );
    return rowCount;
  }

  async close() {
    await this.#pool.end();
  }
}

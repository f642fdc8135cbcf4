import pg from 'pg';

/**
 * The test's own pool for looking at and changing rows. `end()` resolves before its sockets
 * have closed, so the server stopping right after may still end one with an error: that error
 * is expected then, and must not surface as an unhandled 'error' event of the pool.
 */
export function adminPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  return pool;
}

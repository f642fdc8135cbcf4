// The PostgreSQL server's version, for the report.
import pg from 'pg';

export async function postgresVersion(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query('SHOW server_version');
    return String(rows[0]?.server_version ?? 'unknown');
  } finally {
    await client.end().catch(() => undefined);
  }
}

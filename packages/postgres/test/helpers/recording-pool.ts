import type pg from 'pg';
import type { PgPoolLike, PgQueryConfig } from '../../src/index.js';

/** A pool shaped like pg's that records the text of every statement sent through it. */
export function recording(inner: pg.Pool): { pool: PgPoolLike; statements: string[] } {
  const statements: string[] = [];
  const pool: PgPoolLike = {
    get totalCount() {
      return inner.totalCount;
    },
    options: inner.options,
    query: (config: PgQueryConfig) => {
      statements.push(config.text);
      return inner.query(config as pg.QueryConfig);
    },
  };
  return { pool, statements };
}

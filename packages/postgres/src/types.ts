// The narrow surface of `pg` this package uses: a `pg.Pool` or `pg.Client` fits, and so does
// anything shaped like one. Declarations do not depend on `@types/pg`.

/** One parameterised statement, as `pg` takes it (never named: no prepared statements). */
export interface PgQueryConfig {
  readonly text: string;
  readonly values?: unknown[];
  /** Client-side timeout of this statement, in ms (pg's `query_timeout`). */
  readonly query_timeout?: number;
}

/** What a statement returns: the rows (`pg`'s default parsing: `bigint` as text) and the count. */
export interface PgQueryResult {
  readonly rows: readonly Record<string, unknown>[];
  readonly rowCount: number | null;
}

/** Anything that runs a statement: a pool, a client. */
export interface PgQueryable {
  query(config: PgQueryConfig): Promise<PgQueryResult>;
}

/** A `pg.Pool` (or a pool shaped like one): each statement runs on a connection it lends. */
export interface PgPoolLike extends PgQueryable {
  /** How many connections the pool holds (how a pool is told from a client). */
  readonly totalCount: number;
  /**
   * The pool's own settings (`pg.Pool` keeps its constructor options here): the dedicated
   * LISTEN connection is opened with them unless the `listen` option says otherwise.
   */
  readonly options?: object;
}

/** A notification as `pg` delivers it. */
export interface PgNotification {
  readonly channel: string;
  readonly payload?: string | undefined;
}

/** A connected `pg.Client`: statements, and notifications when it listens. */
export interface PgClientLike extends PgQueryable {
  on(event: 'notification', listener: (message: PgNotification) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  // `any`, as pg (Node's EventEmitter) types listeners: a client's own type must fit.
  removeListener(event: 'notification' | 'error' | 'end', listener: (...args: any[]) => void): unknown;
}

/** Settings of a `pg.Client` (a `pg.ClientConfig`), opaque to this package. */
export type PgClientConfig = object;

// The Redis namespaces every pod uses: pods share the election and the results through them.

/** Namespace of the election's Redis names (`<prefix>:{<job>}:leader`, `:term`, `:changed`). */
export const electionPrefix = 'dlock-example:election';

/** Namespace of the results' Redis names (`<prefix>:{<job>}:results`, `:fence`). */
export const resultsPrefix = 'dlock-example:cron';

// dlock's Redlock as a bench contender, over the first `nodes` independent servers. Variant
// 'nofence': fencing 'none' (one quorum round trip less per acquire).

export async function makeRedlock(urls, options = {}) {
  const { Redlock } = await import('@dlock/redlock');
  return new Redlock(urls, options);
}

export async function dlockRedlock({ env, nodes, variant }) {
  const lock = await makeRedlock(env.redisNodeUrls.slice(0, nodes), variant === 'nofence' ? { fencing: 'none' } : {});
  return {
    async acquire(key, ttl) {
      const handle = await lock.lock(key, { ttl });
      return () => handle.release();
    },
    close: () => lock.close(),
  };
}

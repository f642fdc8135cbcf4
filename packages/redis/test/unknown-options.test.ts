import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidOptionError } from '@dlock/core';
import { waitFor } from '@dlock/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLock } from '../src/index.js';

describe('RedisLock: misspelt options', () => {
  it('a misspelt constructor option is an InvalidOptionError naming the closest one, before any connection', () => {
    // Port 1: nothing listens there; the check runs before the client is created.
    const make = () => new RedisLock('redis://127.0.0.1:1', { operationTimout: 500 } as never);
    expect(make).toThrow(InvalidOptionError);
    expect(make).toThrow(/unknown option "operationTimout" for new RedisLock\(\): did you mean "operationTimeout"\?/);
    expect(() => new RedisLock('redis://127.0.0.1:1', { defaultTTL: 5_000 } as never)).toThrow(/did you mean "defaultTtl"/);
  });
});

describe('RedisLock: invalid options open no connection', () => {
  // A loopback listener that only counts the connections it receives.
  let server: Server;
  let connections = 0;
  let url = '';
  beforeAll(async () => {
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    url = `redis://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('an invalid engine or Redis option throws before the client it would create connects', async () => {
    const invalid = [{ defaultTtl: -5 }, { maxRetryDelay: 0 }, { maxLocalHandOvers: 1.5 }, { unavailableTimeout: -1 }, { prefix: '{x}' }, { operationTimeout: 0 }];
    for (const options of invalid) {
      expect(() => new RedisLock(url, options), JSON.stringify(options)).toThrow(InvalidOptionError);
    }
    await sleep(200);
    expect(connections).toBe(0);
  });

  it('control: valid options do connect (the check above can fail)', async () => {
    const lock = new RedisLock(url, { operationTimeout: 200 });
    try {
      await waitFor(() => connections > 0, 5_000);
    } finally {
      await lock.close();
    }
  });

  it('a client argument that is neither a client, options nor a URL is an InvalidOptionError', () => {
    expect(() => new RedisLock(42 as never)).toThrow(/client must be an ioredis Redis or Cluster client/);
  });
});

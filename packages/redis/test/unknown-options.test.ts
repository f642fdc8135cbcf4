import { InvalidOptionError } from '@dlock/core';
import { describe, expect, it } from 'vitest';
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

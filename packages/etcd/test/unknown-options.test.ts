import { InvalidOptionError } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import { EtcdLock, EtcdMutex, etcdClientOptions } from '../src/index.js';

describe('etcd: misspelt options', () => {
  it('a misspelt constructor option is an InvalidOptionError naming the closest one, before any connection', () => {
    const hosts = 'http://127.0.0.1:1';
    expect(() => new EtcdLock({ hosts }, { calltimeout: 500 } as never)).toThrow(InvalidOptionError);
    expect(() => new EtcdLock({ hosts }, { calltimeout: 500 } as never)).toThrow(/new EtcdLock\(\): did you mean "callTimeout"/);
    expect(() => new EtcdMutex({ hosts }, { maxQueuePerName: 4 } as never)).toThrow(/did you mean "maxQueuedPerName"/);
    expect(() => etcdClientOptions({ hosts }, { atempts: 2 } as never)).toThrow(/did you mean "attempts"/);
  });
});

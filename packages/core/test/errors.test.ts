import { describe, expect, it } from 'vitest';
import {
  DlockError,
  InvalidOptionError,
  LockAcquireTimeoutError,
  LockBackendError,
  LockClosedError,
  LockLostError,
  LockNotHeldError,
  LockReleasedError,
  UnknownBackendError,
} from '../src/index.js';
import { MAX_TTL_MS, validateKey, validateTtl, validateWaitTimeout } from '../src/validate.js';

describe('errors', () => {
  it('each failure has its own class with name, key, cause and a message naming the key', () => {
    const cause = new Error('ECONNREFUSED');
    const errors = [
      new LockAcquireTimeoutError('k1', 500, { backend: 'redis', cause }),
      new LockNotHeldError('k1', 'expired', { cause }),
      new LockLostError('k1', 'lease revoked', { cause }),
      new LockBackendError('redis', 'acquire', { key: 'k1', cause }),
      new LockReleasedError('k1'),
      new LockClosedError('redis lock', 'lock', 'k1'),
    ];
    const names = errors.map((e) => e.name);
    expect(new Set(names).size).toBe(errors.length);
    expect(names).toEqual([
      'LockAcquireTimeoutError',
      'LockNotHeldError',
      'LockLostError',
      'LockBackendError',
      'LockReleasedError',
      'LockClosedError',
    ]);
    for (const e of errors) {
      expect(e).toBeInstanceOf(DlockError);
      expect(e).toBeInstanceOf(Error);
      expect(e.key).toBe('k1');
      expect(e.message).toContain('"k1"');
    }
    expect(errors[0]!.cause).toBe(cause);
    expect(errors[3]!.message).toBe('redis acquire of lock "k1" failed: ECONNREFUSED');
    expect((errors[0] as LockAcquireTimeoutError).waitTimeout).toBe(500);
  });

  it('InvalidOptionError is a TypeError that says what was wrong and what was received', () => {
    const e = new InvalidOptionError('ttl', 'a finite integer >= 1', -5);
    expect(e).toBeInstanceOf(TypeError);
    expect(e.name).toBe('InvalidOptionError');
    expect(e.message).toBe('ttl must be a finite integer >= 1, got -5 (number)');
    expect(e.option).toBe('ttl');
    expect(e.received).toBe(-5);
    expect(new InvalidOptionError('key', 'x', '10').message).toContain('got "10" (string)');
    expect(new InvalidOptionError('key', 'x', 'k'.repeat(100)).message).toContain('...');
  });

  it('UnknownBackendError lists what is known', () => {
    const e = new UnknownBackendError('etcd', ['memory', 'redis']);
    expect(e.message).toContain('"etcd"');
    expect(e.message).toContain('memory, redis');
    expect(e.backendName).toBe('etcd');
  });

  it('validators accept the documented ranges and reject the rest', () => {
    expect(validateTtl(1)).toBe(1);
    expect(validateTtl(MAX_TTL_MS)).toBe(2 ** 31 - 1);
    expect(() => validateTtl(2 ** 31)).toThrow(/integer from 1 to 2147483647 .*got 2147483648 \(number\)/);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', null, 10n, 2 ** 53]) {
      expect(() => validateTtl(bad)).toThrow(InvalidOptionError);
    }
    expect(validateWaitTimeout(0)).toBe(0);
    expect(validateWaitTimeout(2.5)).toBe(2.5);
    for (const bad of [-0.1, Number.NaN, Number.POSITIVE_INFINITY, '1']) {
      expect(() => validateWaitTimeout(bad)).toThrow(InvalidOptionError);
    }
    expect(validateKey('ключ')).toBe('ключ');
    expect(() => validateKey('é'.repeat(513))).toThrow(/at most 1024 UTF-8 bytes/);
    expect(validateKey('é'.repeat(512))).toHaveLength(512);
    // Lone surrogates have no UTF-8 form: Redis and etcd would see U+FFFD for all three.
    for (const bad of ['\ud800', '\udfff', 'a\ud800b', '\udc00\ud800']) {
      expect(() => validateKey(bad)).toThrow(/well-formed UTF-16/);
    }
    expect(validateKey('\ufffd')).toBe('\ufffd');
    expect(validateKey('😀')).toBe('😀'); // a surrogate pair is well-formed
  });
});

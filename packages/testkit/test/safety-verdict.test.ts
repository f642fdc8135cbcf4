import { describe, expect, it } from 'vitest';
import {
  FencedResource,
  findFenceInversions,
  findLostUnnoticed,
  findOverlaps,
  findStaleAccepted,
  judge,
  type Acquisition,
  type History,
  type WriteRecord,
} from '../src/safety/index.js';

let seq = 0;

/** An acquisition confirmed valid over [start, end] (end undefined: never confirmed). */
function acq(start: number, end: number | undefined, over: Partial<Acquisition> = {}): Acquisition {
  seq++;
  return {
    id: `p.w.${seq}`,
    proc: 0,
    worker: 0,
    key: 'k',
    token: 'abcd1234',
    fence: BigInt(seq),
    grantedAt: start,
    validThrough: end,
    releaseIntentAt: end,
    outcome: 'released',
    lossReported: false,
    earlyLoss: false,
    releaseNotHeldEarly: false,
    validUntilAtLeast: undefined,
    validLeftAtGrant: 100,
    faults: [],
    ...over,
  };
}

function write(acqId: string, fence: bigint, accepted: boolean, at: number, key = 'k'): WriteRecord {
  return { at, key, acq: acqId, fence, kind: 'write', accepted };
}

function history(over: Partial<History> = {}): History {
  return { acquisitions: [acq(0, 1)], writes: [], errors: {}, unhandled: [], leakedProcesses: [], leakedKeys: [], findings: [], ...over };
}

describe('verdict: overlaps', () => {
  it('detects two holders whose confirmed validity overlaps', () => {
    const a = acq(0, 10);
    const b = acq(5, 15);
    expect(findOverlaps([a, b])).toEqual([[a, b]]);
    const verdict = judge(history({ acquisitions: [a, b] }), { fencing: 'strict' });
    expect(verdict.overlaps).toBe(1);
    expect(verdict.status).toBe('fail');
    expect(verdict.failures.join()).toMatch(/overlapped/);
  });

  it('does not count touching intervals as overlaps', () => {
    const verdict = judge(history({ acquisitions: [acq(0, 10), acq(10, 20), acq(20, 30)] }), { fencing: 'strict' });
    expect(verdict.overlaps).toBe(0);
    expect(verdict.status).toBe('pass');
  });

  it('finds an overlap with an earlier, longer interval, not only the previous one', () => {
    const long = acq(0, 100);
    const short = acq(10, 20);
    const later = acq(50, 60);
    expect(findOverlaps([later, short, long]).map(([, b]) => b.id)).toEqual([short.id, later.id]);
  });

  it('keeps keys apart and ignores acquisitions never confirmed valid', () => {
    const a = acq(0, 10, { key: 'a' });
    const b = acq(5, 15, { key: 'b' });
    const unconfirmed = acq(2, undefined, { key: 'a' });
    expect(findOverlaps([a, b, unconfirmed])).toEqual([]);
  });
});

describe('verdict: fencing', () => {
  it('flags a later holder with a lower fencing token (strict backends only)', () => {
    const a = acq(0, 10, { fence: 5n });
    const b = acq(20, 30, { fence: 3n });
    expect(findFenceInversions([a, b])).toEqual([[a, b]]);
    expect(judge(history({ acquisitions: [a, b] }), { fencing: 'strict' }).fenceInversions).toBe(1);
    expect(judge(history({ acquisitions: [a, b] }), { fencing: 'none' }).status).toBe('pass');
  });

  it('flags a stale write the resource accepted (interleaving holders)', () => {
    const writes = [write('A', 0n, true, 1), write('B', 0n, true, 2), write('A', 0n, true, 3)];
    expect(findStaleAccepted(writes)).toEqual([writes[2]]);
    const verdict = judge(history({ writes }), { fencing: 'none' });
    expect(verdict.staleAccepted).toBe(1);
    expect(verdict.status).toBe('fail');
  });

  it('does not flag rejected stale writes, repeated writes of one holder, or other keys', () => {
    const writes = [
      write('A', 1n, true, 1),
      write('A', 1n, true, 2),
      write('B', 2n, true, 3),
      write('A', 1n, false, 4),
      write('C', 1n, true, 5, 'other'),
    ];
    expect(findStaleAccepted(writes)).toEqual([]);
    const verdict = judge(history({ writes }), { fencing: 'strict' });
    expect(verdict.staleRejected).toBe(1);
    expect(verdict.status).toBe('pass');
  });

  it('the fenced resource accepts equal or higher tokens per key and rejects lower ones', () => {
    const resource = new FencedResource();
    expect(resource.write('k', 'A', 5n, 'register', 1)).toBe(true);
    expect(resource.write('k', 'A', 5n, 'write', 2)).toBe(true);
    expect(resource.write('k', 'B', 4n, 'register', 3)).toBe(false);
    expect(resource.write('other', 'C', 1n, 'register', 4)).toBe(true);
    expect(resource.write('k', 'D', 6n, 'register', 5)).toBe(true);
    expect(resource.highest('k')).toBe(6n);
    expect(resource.rejected).toBe(1);
    expect(resource.log.map((w) => w.accepted)).toEqual([true, true, false, true, true]);
  });
});

describe('verdict: losses, documentation and hygiene', () => {
  it('flags a holder whose release succeeded although a confirmed holder took over meanwhile', () => {
    const first = acq(0, 5, { releaseIntentAt: 30 });
    const second = acq(10, 20);
    expect(findLostUnnoticed([first, second])).toEqual([[first, second]]);
    expect(judge(history({ acquisitions: [first, second] }), { fencing: 'strict' }).lostUnnoticed).toBe(1);
    // Reported (signal fired / LockNotHeldError): noticed.
    const noticed = { ...first, outcome: 'not-held' as const, lossReported: true };
    expect(findLostUnnoticed([noticed, second])).toEqual([]);
  });

  it('shows, rather than fails, what a documented row cannot guarantee; stale accepted still fails', () => {
    const a = acq(0, 10, { fence: 9n, earlyLoss: true, lossReported: true, outcome: 'not-held' });
    const b = acq(5, 15, { fence: 2n });
    const documented = judge(history({ acquisitions: [a, b] }), { fencing: 'strict', documentedUnsafe: 'restart loses data' });
    expect(documented.status).toBe('documented');
    expect(documented.overlaps).toBe(1);
    expect(documented.fenceInversions).toBe(1);
    expect(documented.notes[0]).toBe('documented: restart loses data');
    const writes = [write(a.id, 9n, true, 1), write(b.id, 9n, true, 6), write(a.id, 9n, true, 7)];
    const broken = judge(history({ acquisitions: [a, b], writes }), { fencing: 'strict', documentedUnsafe: 'restart loses data' });
    expect(broken.status).toBe('fail');
  });

  it('fails on early losses and errors unless the scenario expects them', () => {
    const h = history({ acquisitions: [acq(0, 1, { earlyLoss: true })], errors: { 'acquire:LockBackendError': 2 } });
    expect(judge(h, { fencing: 'strict' }).failures).toHaveLength(2);
    const expected = judge(h, { fencing: 'strict', errorsExpected: true, earlyLossExpected: true });
    expect(expected.status).toBe('pass');
    expect(expected.errors).toBe(2);
    expect(expected.earlyLosses).toBe(1);
  });

  it('notes waits that ran out (liveness), but fails on other worker errors', () => {
    const timeouts = judge(history({ errors: { 'acquire:LockAcquireTimeoutError': 3 } }), { fencing: 'strict' });
    expect(timeouts.status).toBe('pass');
    expect(timeouts.errors).toBe(3);
    expect(timeouts.notes.join()).toMatch(/waitTimeout/);
    expect(judge(history({ errors: { 'acquire:LockAcquireTimeoutError': 3, 'release:LockBackendError': 1 } }), { fencing: 'strict' }).status).toBe('fail');
  });

  it('fails on an early LockNotHeldError from release() unless releases may have been re-sent', () => {
    const h = history({ acquisitions: [acq(0, 1, { outcome: 'not-held', lossReported: true, releaseNotHeldEarly: true })] });
    const strict = judge(h, { fencing: 'strict' });
    expect(strict.earlyNotHeld).toBe(1);
    expect(strict.status).toBe('fail');
    expect(judge(h, { fencing: 'strict', releaseAmbiguous: true }).status).toBe('pass');
  });

  it('notes, without failing, a handle lock() returned already past its validUntil', () => {
    const verdict = judge(history({ acquisitions: [acq(0, undefined, { validLeftAtGrant: -40 })] }), { fencing: 'strict' });
    expect(verdict.expiredAtGrant).toBe(1);
    expect(verdict.status).toBe('pass');
    expect(verdict.notes.join()).toMatch(/already past validUntil/);
  });

  it('fails on unhandled rejections, leaked processes or keys, failing findings, and an empty run', () => {
    for (const over of [
      { unhandled: ['worker 0: unhandledRejection: boom'] },
      { leakedProcesses: ['worker 1 did not exit'] },
      { leakedKeys: ['dlock:{k}'] },
      { findings: [{ severity: 'failure' as const, message: 'lock freed before its TTL' }] },
      { acquisitions: [] },
    ]) {
      expect(judge(history(over), { fencing: 'strict' }).status, JSON.stringify(over)).toBe('fail');
    }
    expect(judge(history({ findings: [{ severity: 'info', message: 'resumed in 1 s' }] }), { fencing: 'strict' }).notes).toEqual(['resumed in 1 s']);
  });
});

// The verdicts of the read-write lock, the semaphore and the election on hand-made histories:
// each check must fire on a history that breaks it and stay quiet on one that does not.
import { describe, expect, it } from 'vitest';
import {
  admits,
  ClaimResource,
  electionChecks,
  findClaimConflicts,
  findClaimLostUnnoticed,
  findClaimStaleAccepted,
  findOrderInversions,
  findRWFenceInversions,
  judge,
  rwChecks,
  semaphoreChecks,
  type Acquisition,
  type History,
  type WriteRecord,
} from '../src/safety/index.js';
import { takeoverOf } from '../src/safety/scenario.js';

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
const read = (start: number, end: number | undefined, over: Partial<Acquisition> = {}) => acq(start, end, { mode: 'read', ...over });
const write = (start: number, end: number | undefined, over: Partial<Acquisition> = {}) => acq(start, end, { mode: 'write', ...over });
const permits = (n: number, start: number, end: number | undefined, over: Partial<Acquisition> = {}) => acq(start, end, { permits: n, limit: 3, ...over });

function history(acquisitions: Acquisition[], writes: WriteRecord[] = []): History {
  return { acquisitions, writes, errors: {}, unhandled: [], leakedProcesses: [], leakedKeys: [], findings: [] };
}

describe('claims: who may hold a key together', () => {
  it('readers with readers, a writer alone, permits within the limit, a mutex alone', () => {
    expect(admits([{ mode: 'read' }, { mode: 'read' }], { mode: 'read' })).toBe(true);
    expect(admits([{ mode: 'read' }], { mode: 'write' })).toBe(false);
    expect(admits([{ mode: 'write' }], { mode: 'read' })).toBe(false);
    expect(admits([], { mode: 'write' })).toBe(true);
    expect(admits([{ permits: 2, limit: 3 }], { permits: 1, limit: 3 })).toBe(true);
    expect(admits([{ permits: 2, limit: 3 }], { permits: 2, limit: 3 })).toBe(false);
    expect(admits([{}], {})).toBe(false);
    expect(admits([], {})).toBe(true);
  });
});

describe('verdict: read-write lock', () => {
  it('passes readers overlapping each other, writers alone', () => {
    const verdict = judge(history([read(0, 10), read(2, 12), read(5, 8), write(12, 20), read(20, 30)]), { fencing: 'strict' }, rwChecks);
    expect(verdict.overlaps).toBe(0);
    expect(verdict.fenceInversions).toBe(0);
    expect(verdict.status).toBe('pass');
  });

  it('fails a writer overlapping a reader, and a reader overlapping a writer', () => {
    const r = read(0, 10);
    const w = write(5, 15);
    expect(findClaimConflicts([r, w])).toEqual([{ acq: w, holders: [r] }]);
    const w2 = write(20, 30);
    const r2 = read(25, 35);
    const r3 = read(26, 36);
    // r3 conflicts with the writer only, not with the reader r2 it shares the key with.
    expect(findClaimConflicts([w2, r2, r3])).toEqual([
      { acq: r2, holders: [w2] },
      { acq: r3, holders: [w2] },
    ]);
    const verdict = judge(history([r, w]), { fencing: 'strict' }, rwChecks);
    expect(verdict.status).toBe('fail');
    expect(verdict.failures.join()).toMatch(/a writer and anyone/);
  });

  it('fails a writer overlapping another writer', () => {
    expect(judge(history([write(0, 10), write(9, 20)]), { fencing: 'strict' }, rwChecks).overlaps).toBe(1);
  });

  it('tokens: a writer above everyone before it, a reader above the writers before it, readers in any order', () => {
    const r1 = read(0, 10, { fence: 5n });
    const r2 = read(1, 10, { fence: 4n }); // granted together with r1, registered after it: fine
    expect(findRWFenceInversions([r1, r2])).toEqual([]);
    const w = write(11, 20, { fence: 3n });
    expect(findRWFenceInversions([r1, r2, w])).toEqual([[r1, w]]);
    const w2 = write(0, 10, { fence: 9n });
    const r3 = read(11, 20, { fence: 8n });
    expect(findRWFenceInversions([w2, r3])).toEqual([[w2, r3]]);
    expect(judge(history([w2, r3]), { fencing: 'strict' }, rwChecks).status).toBe('fail');
  });

  it('flags a reader released fine although a writer was confirmed between its grant and its release intent', () => {
    const r = read(0, 5, { releaseIntentAt: 30 });
    const w = write(10, 20);
    expect(findClaimLostUnnoticed([r, w])).toEqual([[r, w]]);
    expect(judge(history([r, w]), { fencing: 'strict' }, rwChecks).lostUnnoticed).toBe(1);
    // Another reader meanwhile is no loss; nor is a reported loss.
    expect(findClaimLostUnnoticed([read(0, 5, { releaseIntentAt: 30 }), read(10, 20)])).toEqual([]);
    expect(findClaimLostUnnoticed([{ ...r, outcome: 'not-held', lossReported: true }, w])).toEqual([]);
  });
});

describe('verdict: semaphore', () => {
  it('passes holders whose permits stay within the limit at every instant', () => {
    const run = [permits(2, 0, 10), permits(1, 1, 12), permits(1, 10, 20), permits(2, 12, 22)];
    const verdict = judge(history(run), { fencing: 'strict' }, semaphoreChecks);
    expect(verdict.overlaps).toBe(0);
    expect(verdict.status).toBe('pass');
  });

  it('fails a grant that takes the confirmed holders past the limit, naming who held', () => {
    const a = permits(2, 0, 10);
    const b = permits(1, 1, 10);
    const c = permits(1, 5, 15);
    expect(findClaimConflicts([a, b, c])).toEqual([{ acq: c, holders: [a, b] }]);
    const verdict = judge(history([a, b, c]), { fencing: 'strict' }, semaphoreChecks);
    expect(verdict.status).toBe('fail');
    expect(verdict.failures.join()).toMatch(/more than the limit/);
    expect(verdict.examples[0]).toMatch(/2\/3 permits/);
  });

  it('tokens: only a holder registered before another called acquire() must have the lower token', () => {
    const a = permits(1, 10, 20, { fence: 7n, calledAtLeast: 0 });
    const b = permits(1, 12, 20, { fence: 6n, calledAtLeast: 1 }); // called before a registered: any order
    expect(findOrderInversions([a, b])).toEqual([]);
    const c = permits(1, 30, 40, { fence: 6n, calledAtLeast: 25 }); // called after a registered
    expect(findOrderInversions([a, b, c])).toEqual([[a, c]]);
    expect(judge(history([a, b, c]), { fencing: 'strict' }, semaphoreChecks).fenceInversions).toBe(1);
    expect(judge(history([a, b, c]), { fencing: 'strict', documentedUnsafe: 'restart' }, semaphoreChecks).status).toBe('documented');
  });

  it('flags permits released fine although newcomers filled the limit meanwhile', () => {
    const a = permits(2, 0, 5, { releaseIntentAt: 30 });
    const b = permits(2, 10, 20);
    expect(findClaimLostUnnoticed([a, b])).toEqual([[a, b]]);
    expect(findClaimLostUnnoticed([permits(1, 0, 5, { releaseIntentAt: 30 }), permits(2, 10, 20)])).toEqual([]);
  });
});

describe('resource of shared claims', () => {
  it('admits readers together and evicts the readers a newer writer supersedes; their reads are refused', () => {
    const resource = new ClaimResource();
    const r1 = read(0, 1, { fence: 1n });
    const r2 = read(0, 1, { fence: 2n });
    const w = write(0, 1, { fence: 3n });
    expect(resource.admit(r1, 1)).toBe(true);
    expect(resource.admit(r2, 2)).toBe(true);
    expect(resource.accept(r1, 3)).toBe(true);
    expect(resource.admit(w, 4)).toBe(true);
    expect(resource.accept(r2, 5)).toBe(false);
    expect(resource.accept(w, 6)).toBe(true);
    expect(resource.log.map((r) => `${r.kind}:${r.accepted}`)).toEqual([
      'register:true',
      'register:true',
      'read:true',
      'evict:true',
      'evict:true',
      'register:true',
      'read:false',
      'write:true',
    ]);
    expect(resource.rejected).toBe(1);
    expect(findClaimStaleAccepted(resource.log)).toEqual([]);
  });

  it('refuses a newcomer whose token is the lowest, frees a holder that leaves', () => {
    const resource = new ClaimResource();
    const a = permits(2, 0, 1, { fence: 5n });
    const b = permits(2, 0, 1, { fence: 4n });
    expect(resource.admit(a, 1)).toBe(true);
    expect(resource.admit(b, 2)).toBe(false);
    expect(resource.accept(b, 3)).toBe(false);
    resource.leave(a, 4);
    const c = permits(2, 0, 1, { fence: 6n });
    expect(resource.admit(c, 5)).toBe(true);
    expect(resource.accept(a, 6)).toBe(false);
  });

  it('the replay flags accepted writes of holders that left or were evicted, and registrations past the limit', () => {
    const rec = (acqId: string, kind: WriteRecord['kind'], accepted: boolean, at: number, claim?: WriteRecord['claim']): WriteRecord => ({ at, key: 'k', acq: acqId, fence: 1n, kind, accepted, claim });
    const two = { permits: 2, limit: 3 };
    const log = [
      rec('A', 'register', true, 1, two),
      rec('B', 'register', true, 2, two), // 4 of 3 permits: stale
      rec('A', 'leave', true, 3),
      rec('A', 'write', true, 4), // after leaving: stale
      rec('C', 'register', false, 5, two),
      rec('C', 'write', true, 6), // refused registration, accepted write: stale
      rec('B', 'write', true, 7),
    ];
    expect(findClaimStaleAccepted(log).map((w) => `${w.acq}:${w.kind}`)).toEqual(['B:register', 'A:write', 'C:write']);
    expect(judge(history([permits(1, 0, 1)], log), { fencing: 'strict' }, semaphoreChecks).staleAccepted).toBe(3);
  });
});

describe('verdict: election', () => {
  it('passes one leader at a time with rising terms', () => {
    const verdict = judge(history([acq(0, 10, { fence: 3n }), acq(10, 20, { fence: 4n }), acq(25, 30, { fence: 9n })]), { fencing: 'strict' }, electionChecks);
    expect(verdict.status).toBe('pass');
  });

  it('fails two confirmed leaders at once, in leader words', () => {
    const verdict = judge(history([acq(0, 10), acq(5, 15)]), { fencing: 'strict' }, electionChecks);
    expect(verdict.overlaps).toBe(1);
    expect(verdict.failures.join()).toMatch(/leaders were elected while another leader/);
  });

  it('fails a later leader with a lower term, by grant order or by the call order', () => {
    expect(judge(history([acq(0, 10, { fence: 5n }), acq(20, 30, { fence: 5n })]), { fencing: 'strict' }, electionChecks).fenceInversions).toBe(1);
    // Never confirmed, so only the call order can tell: elected after the first registered.
    const first = acq(0, 10, { fence: 5n });
    const late = acq(20, undefined, { fence: 4n, calledAtLeast: 12 });
    expect(judge(history([first, late]), { fencing: 'strict' }, electionChecks).fenceInversions).toBe(1);
  });

  it('fails a stale term write accepted after the next leader wrote', () => {
    const w = (acqId: string, fence: bigint, at: number): WriteRecord => ({ at, key: 'k', acq: acqId, fence, kind: 'write', accepted: true });
    const verdict = judge(history([acq(0, 1)], [w('A', 1n, 1), w('B', 2n, 2), w('A', 1n, 3)]), { fencing: 'strict' }, electionChecks);
    expect(verdict.staleAccepted).toBe(1);
    expect(verdict.status).toBe('fail');
  });
});

describe('takeover of a paused, killed or lapsed holder', () => {
  it('is the next grant for a leader, the next writer for a reader, the grant that needed the permits', () => {
    const leader = acq(0, 5);
    const next = acq(8, 9);
    expect(takeoverOf([leader, next], leader, 5)).toBe(next);
    const reader = read(0, 5);
    const otherReader = read(6, 20);
    const writer = write(21, 30);
    expect(takeoverOf([reader, otherReader, writer], reader, 5)).toBe(writer);
    const held = permits(2, 0, 5);
    const small = permits(1, 6, 40);
    const needed = permits(1, 10, 20); // 2 + 1 + 1 > 3 with `held`
    expect(takeoverOf([held, small, needed], held, 5)).toBe(needed);
    expect(takeoverOf([held, small, needed], held, 5, { before: 9 })).toBeUndefined();
  });
});

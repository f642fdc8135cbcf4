import type { Primitive } from './types.js';
import { mutexChecks, type PrimitiveChecks } from './verdict.js';
import { electionChecks } from './verdict-election.js';
import { rwChecks } from './verdict-rw.js';
import { semaphoreChecks } from './verdict-semaphore.js';

/** The verdict's checks for runs acquiring `primitive`. */
export function checksFor(primitive: Primitive): PrimitiveChecks {
  switch (primitive) {
    case 'mutex':
      return mutexChecks;
    case 'rw':
      return rwChecks;
    case 'semaphore':
      return semaphoreChecks;
    case 'election':
      return electionChecks;
  }
}

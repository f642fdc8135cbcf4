import { lockContractSuite } from '@dlock/testkit/contract';
import { LockTable } from '../src/lock-table.js';
import { TableLock } from '../src/table-lock.js';

// One table for the whole suite, like one server: every test uses its own keys.
const table = new LockTable();

// `fifo`: waiters of one instance are served in arrival order (the engine's queue, woken by the
// table's release feed). The rest of the contract follows from `capabilities`.
lockContractSuite('TableLock', () => new TableLock(table), { fifo: true });

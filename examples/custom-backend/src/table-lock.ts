import { InvalidOptionError, LockEngine, type LockEngineOptions } from '@dlock/core';
import type { LockTable } from './lock-table.js';
import { TableDriver, type TableLockData } from './table-driver.js';

/** Options of {@link TableLock}: the engine's, plus the prefix of the table rows. */
export interface TableLockOptions extends LockEngineOptions {
  /** @default 'lock:' */
  prefix?: string;
}

/** The public lock: the engine over a {@link TableDriver}. Instances on one table exclude each other. */
export class TableLock extends LockEngine<TableLockData> {
  constructor(table: LockTable, options: TableLockOptions = {}) {
    const prefix = options?.prefix ?? 'lock:';
    if (typeof prefix !== 'string') throw new InvalidOptionError('prefix', 'a string', prefix);
    super(new TableDriver(table, prefix), options, { names: ['prefix'], what: 'new TableLock()' });
  }
}

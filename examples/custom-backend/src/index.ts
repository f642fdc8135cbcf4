export { LockTable, TableAccessError, TableUnavailableError } from './lock-table.js';
export { TableDriver, type TableLockData } from './table-driver.js';
export { TableLock, type TableLockOptions } from './table-lock.js';

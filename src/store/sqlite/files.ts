/**
 * The SQLite store's watch on its files: the database file and its WAL as opened, so that a write is refused once
 * either was moved or removed.
 *
 * @module
 * @internal
 */
import { statSync } from 'node:fs'
import Database from 'better-sqlite3'

/** What a write gets when the file it would go to is not the one at the store's path any more. */
const DB_MOVED_CODE = 'SQLITE_READONLY_DBMOVED'

/** A file as the store opened it: where, and which one (device and inode). */
export interface OpenedFile {
  readonly path: string
  readonly dev: number
  readonly ino: number
}

/** The database file and its WAL (SQLite keeps the same WAL file while the database is open). */
export function openedFiles(path: string): OpenedFile[] {
  return [path, `${path}-wal`].flatMap((file) => {
    const stat = statSync(file, { throwIfNoEntry: false })
    return stat === undefined ? [] : [{ path: file, dev: stat.dev, ino: stat.ino }]
  })
}

/**
 * Throws `SQLITE_READONLY_DBMOVED` unless the database file and its WAL at the store's path are still the ones it
 * opened. On Linux an open database that was moved or removed goes on working, on files that no longer have its
 * name: a write would go where the next start does not look (and a removed file is gone for good). SQLite checks
 * this itself only in rollback-journal mode. One `stat` per file, per write transaction.
 */
export function checkFiles(files: readonly OpenedFile[]): void {
  for (const file of files) {
    const now = statSync(file.path, { throwIfNoEntry: false })
    if (now === undefined || now.ino !== file.ino || now.dev !== file.dev) {
      throw new Database.SqliteError(`${file.path} was moved or removed since the store opened it: writes are refused until it is back`, DB_MOVED_CODE)
    }
  }
}

import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

export type SqliteDatabase = Database.Database;

/**
 * Opens (creating if needed) an agent's SQLite database in WAL mode and applies its schema
 * migrations in order. Migration i runs once; `PRAGMA user_version` records how many ran.
 *
 * @param path Database file.
 * @param migrations SQL scripts, oldest first; never edit a released one, append a new one.
 */
export function openDatabase(path: string, migrations: string[]): SqliteDatabase {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  const applied = db.pragma("user_version", { simple: true }) as number;
  for (let i = applied; i < migrations.length; i++) {
    db.transaction(() => {
      db.exec(migrations[i]);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
  return db;
}

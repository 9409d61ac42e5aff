import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { applyMigrationsTo, type MigrationResult, resolveMigrationsDir } from '../lambda/shared/migrations';
import { PgliteServer } from './pglite-server';
import { isAlive } from './process';

interface OpenDatabase {
  /** What the handlers get as DATABASE_URL. */
  readonly url: string;
  readonly migrations: MigrationResult;
  close(): Promise<void>;
}

/** DATABASE_URL as given, or the embedded PGlite database under the data dir. */
export type LocalDatabase =
  | (OpenDatabase & { readonly kind: 'external' })
  | (OpenDatabase & {
      readonly kind: 'pglite';
      /** Where PGlite keeps its files. */
      readonly dataDir: string;
    });

export interface LocalDatabaseOptions {
  /** An existing PostgreSQL; the embedded one is used when unset. */
  readonly url?: string;
  /** Root of the local runtime's files; PGlite keeps its data in `<dataDir>/pglite`. */
  readonly dataDir: string;
  /** @default resolveMigrationsDir() */
  readonly migrationsDir?: string;
}

/**
 * PGlite is a single in-process backend: two processes opening the same directory would corrupt it. The lock
 * names the owning pid; a lock left by a killed process is taken over.
 */
export function acquireDataDirLock(lockFile: string): () => void {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return () => {
        const owner = Number(fs.readFileSync(lockFile, 'utf8').trim());
        if (owner === process.pid) fs.rmSync(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(fs.readFileSync(lockFile, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new Error(`${path.dirname(lockFile)} is in use by another local pipeline (pid ${owner})`);
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`Could not lock ${lockFile}`);
}

/**
 * The database of the local pipeline, migrated and ready: DATABASE_URL as given, or else PGlite persisted under
 * the data dir and served over the PostgreSQL wire protocol on a free loopback port, so the aggregator's `pg`
 * code runs unchanged. After a hard kill PGlite recovers from its write-ahead log on the next open (the
 * `postmaster.pid` it leaves behind is not checked by PGlite).
 */
export async function startLocalDatabase(options: LocalDatabaseOptions): Promise<LocalDatabase> {
  const migrationsDir = options.migrationsDir ?? resolveMigrationsDir();
  if (options.url !== undefined) {
    const migrations = await applyMigrationsTo(options.url, migrationsDir);
    return { url: options.url, kind: 'external', migrations, close: async () => undefined };
  }

  const dataDir = path.join(options.dataDir, 'pglite');
  const releaseLock = acquireDataDirLock(path.join(options.dataDir, 'pglite.lock'));
  let db: PGlite | undefined;
  let server: PgliteServer | undefined;
  const close = async () => {
    await server?.stop();
    await db?.close();
    releaseLock();
  };
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    db = await PGlite.create(dataDir);
    server = new PgliteServer({ db });
    await server.start();
    const url = server.url();
    const migrations = await applyMigrationsTo(url, migrationsDir);
    return { url, kind: 'pglite', migrations, dataDir, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

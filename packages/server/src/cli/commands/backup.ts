import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { backupSqliteFile, openStore, SqliteStore } from "checkback";
import { DEFAULT_STORE_URL } from "checkback/internal";
import { type Command, Option } from "commander";
import { CliError } from "../errors.js";
import { createOutput } from "../output.js";
import { type Progress, startProgress } from "../progress.js";

interface BackupOptions {
  store: string;
  progress?: boolean;
}

interface BackupSummary {
  source: string;
  destination: string;
  pages: number;
  bytes: number;
  ms: number;
}

/**
 * `checkback backup <dest>`: a consistent copy of an SQLite store file taken with SQLite's
 * online backup, while servers and workers keep using the file. It works on the file itself,
 * not over HTTP, so it runs on the machine that holds the store.
 */
export function registerBackup(program: Command): void {
  program
    .command("backup")
    .description("copy an SQLite store file safely while it is in use (SQLite's online backup)")
    .argument("<dest>", "the copy to write: a new file (an existing one is refused)")
    .addOption(
      new Option("--store <url>", "the store to copy: sqlite:<path>").env("CHECKBACK_STORE").default(DEFAULT_STORE_URL),
    )
    .option("--progress", "show a progress bar even when stderr is not a terminal")
    .option("--no-progress", "never show a progress bar")
    .addHelpText(
      "after",
      `
Reads the store file directly (the server may keep running); copying the file with cp is not
safe, as recent commits may still be in its -wal file. The copy is a complete database with no
-wal file of its own. Only SQLite stores: back up Redis and PostgreSQL with their own tools.
--json prints { source, destination, pages, bytes, ms }. Restoring is described in
docs/deployment.md (stop the server, replace the file, remove its -wal and -shm, start).

Examples:
  $ checkback backup /var/backups/checkback-$(date +%F).db --store sqlite:/var/lib/checkback/checkback.db
  $ CHECKBACK_STORE=sqlite:./checkback.db checkback backup ./copy.db --json`,
    )
    .action(async (dest: string, options: BackupOptions, command: Command) => {
      const out = createOutput(command.optsWithGlobals<{ json?: boolean }>().json === true);
      const store = sqliteStoreOf(options.store);
      const destination = resolve(dest);
      if (existsSync(destination)) {
        throw new CliError("DESTINATION_EXISTS", `${destination} already exists; give the backup a new file name`);
      }
      const started = Date.now();
      let progress: Progress | undefined;
      let shownPages = 0;
      try {
        // The file is copied without opening it as a store: nothing migrated, no write lock taken.
        const done = await backupSqliteFile(store.path, destination, {
          onProgress: ({ totalPages, remainingPages }) => {
            // Drawn only once a step copied pages and left some: a small file is done in one step.
            if (progress === undefined && remainingPages > 0 && remainingPages < totalPages) {
              progress = startProgress("backup", totalPages, options.progress);
            }
            // advance() takes a delta; a copy SQLite restarted goes back, which the bar shows.
            progress?.advance(totalPages - remainingPages - shownPages);
            shownPages = totalPages - remainingPages;
          },
        });
        const summary: BackupSummary = {
          source: store.path,
          destination,
          pages: done.totalPages,
          bytes: statSync(destination).size,
          ms: Date.now() - started,
        };
        out.result(summary, () => `backed up ${summary.source} to ${destination} (${formatBytes(summary.bytes)})`);
      } finally {
        progress?.stop();
        await store.close();
      }
    });
}

/** The store URL must name an existing SQLite file: a backup never creates an empty store. */
function sqliteStoreOf(url: string): SqliteStore {
  if (!url.startsWith("sqlite:")) {
    const scheme = url.slice(0, Math.max(url.indexOf(":"), 0)) || url;
    throw new CliError(
      "UNSUPPORTED_STORE",
      `checkback backup copies an SQLite store file, and ${JSON.stringify(scheme)} is not one; ` +
        "back up Redis (RDB/AOF) and PostgreSQL (pg_dump) with their own tools",
      2,
    );
  }
  const store = openStore(url);
  if (!(store instanceof SqliteStore)) throw new CliError("UNSUPPORTED_STORE", `${url} is not an SQLite store`, 2);
  if (store.path === ":memory:") {
    throw new CliError("UNSUPPORTED_STORE", "an in-memory SQLite store has no file to back up", 2);
  }
  if (!existsSync(store.path)) throw new CliError("STORE_NOT_FOUND", `no SQLite store file at ${store.path}`);
  return store;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

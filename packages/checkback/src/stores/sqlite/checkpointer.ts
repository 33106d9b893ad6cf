import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { betterSqlite3Path } from "../drivers.js";

/**
 * WAL checkpoints on a thread of their own.
 *
 * In WAL mode every commit appends pages to `<db>-wal`; a checkpoint copies them back into the
 * database file and fsyncs it. SQLite's automatic checkpoint runs inside the COMMIT that
 * crosses 1,000 WAL pages, i.e. on the event loop (better-sqlite3 is synchronous): each one
 * wrote hundreds of pages and waited for two fsyncs (≈3 ms each on an ordinary virtual disk),
 * which was both the millisecond tail of firing lateness and a third of the drain's time.
 *
 * So the serving connection runs with `wal_autocheckpoint = 0` and this thread, with its own
 * connection to the same file, runs `PRAGMA wal_checkpoint(PASSIVE)`. PASSIVE takes no lock a
 * writer needs: the main thread keeps committing while pages are copied. The cadence follows
 * the WAL: every POLL_MS the thread reads two counters from the wal-index header (`<db>-shm`,
 * a documented, stable layout: the last frame written, `mxFrame`, and the last one copied,
 * `nBackfill`) — one 100-byte read, no lock, no query — and checkpoints when CHECKPOINT_BYTES
 * of frames are waiting, or when any are and the writer has been quiet for IDLE_MS. A torn or
 * unreadable header only makes it checkpoint early, which is always safe.
 *
 * Why so rarely: once a checkpoint has copied every frame, the next write starts the WAL over
 * from its beginning, and SQLite fsyncs the new WAL header in that write — on the event loop.
 * Checkpointing every 1,000 pages (SQLite's default cadence) meant one such fsync per 4 MB of
 * WAL, dozens a second in a drain; every 16 MiB costs a quarter of that, and at light load
 * about one every few seconds.
 *
 * A PASSIVE checkpoint never catches up while commits keep coming, so under a sustained burst
 * the WAL would grow without bound (SQLite starts it over only when a write begins with every
 * frame copied). Once it holds RESTART_BYTES, PASSIVE passes follow each other (each copies
 * what was written during the last, so they shrink) until at most RESTART_RESIDUE_BYTES are
 * left, and then a RESTART copies that residue under the write lock and makes the next writer
 * start the WAL over; `journal_size_limit` then truncates the file. The main thread may wait a
 * few milliseconds for that lock (its busy timeout) — once per RESTART_BYTES of WAL. The thread
 * itself never waits for a lock (busy_timeout 0): a RESTART that finds the write lock taken
 * gives up at once and is tried again on the next tick, so it only ever runs in a gap between
 * the main thread's writes. (A RESTART that waited for the lock, straight after a long PASSIVE
 * pass, held the main thread back for up to a third of a second beside a 1M-job backlog.)
 * While a bulk insert keeps the write lock nearly all the time the WAL can outgrow
 * RESTART_BYTES (to a few hundred MB for a million jobs added back to back); it is cut back at
 * the first gap.
 *
 * Durability is unchanged: a commit is exactly as durable as the serving connection's
 * `synchronous` setting says (NORMAL: the WAL is not fsynced per commit, survives a process
 * crash; FULL: fsynced per commit). A checkpoint, wherever it runs, fsyncs the WAL before
 * copying and the database after, and a checkpoint interrupted by a crash is repeated from the
 * WAL on the next open.
 *
 * Several processes on one file each run their own checkpointer; SQLite lets one checkpoint
 * run at a time and the others return at once. If the thread dies or cannot start, the serving
 * connection goes back to automatic checkpoints. The thread is unref'd (it never keeps a
 * process alive) and stop() ends it before the store closes its connection.
 */
const POLL_MS = 10;
const IDLE_MS = 1_000;
const CHECKPOINT_BYTES = 16 * 1024 * 1024;
const RESTART_BYTES = 64 * 1024 * 1024;
/** What a RESTART may still have to copy under the write lock (the rest is copied by PASSIVE passes first). */
const RESTART_RESIDUE_BYTES = 512 * 1024;
/** SQLite's own default, restored if the thread is gone. */
const AUTO_CHECKPOINT_PAGES = 1_000;

/**
 * The thread's code. It is plain CommonJS given as source (`eval`), not a module file, so it
 * runs the same under Node, tsx, vitest and the compiled package without a loader or a build
 * step; the driver is required by its resolved path.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { openSync, readSync, closeSync } = require("node:fs");
const Database = require(workerData.driver);
const { path, synchronous, pollMs, idleMs, checkpointBytes, restartBytes, restartResidueBytes } = workerData;

const db = new Database(path, { fileMustExist: true });
// Never wait for a lock: a RESTART that waited would hold the main thread's writes back
// meanwhile; one that finds the write lock taken is simply tried again on the next tick.
db.pragma("busy_timeout = 0");
db.pragma("synchronous = " + synchronous);
db.pragma("wal_autocheckpoint = 0");
const pageSize = db.pragma("page_size", { simple: true });
const checkpointFrames = Math.ceil(checkpointBytes / pageSize);

const header = Buffer.alloc(100);
const littleEndian = require("node:os").endianness() === "LE";
let shm = null;
function walFrames() {
  try {
    if (shm === null) shm = openSync(path + "-shm", "r");
    if (readSync(shm, header, 0, 100, 0) < 100) return null;
    const mxFrame = littleEndian ? header.readUInt32LE(16) : header.readUInt32BE(16);
    const nBackfill = littleEndian ? header.readUInt32LE(96) : header.readUInt32BE(96);
    return { written: mxFrame, waiting: mxFrame - nBackfill };
  } catch {
    if (shm !== null) { try { closeSync(shm); } catch {} shm = null; }
    return null;
  }
}

let lastWritten = -1;
let quietSince = Date.now();
// Set while the WAL is over restartBytes and passes are catching up before a RESTART.
let catchingUp = false;
function tick() {
  const frames = walFrames();
  const now = Date.now();
  if (frames === null || frames.written !== lastWritten) {
    lastWritten = frames === null ? -1 : frames.written;
    quietSince = now;
  }
  const due = catchingUp || frames === null
    ? catchingUp || now - quietSince >= idleMs
    : frames.waiting >= checkpointFrames || (frames.waiting > 0 && now - quietSince >= idleMs);
  if (!due) return;
  if (frames === null) quietSince = now;
  try {
    const [result] = db.pragma("wal_checkpoint(PASSIVE)");
    catchingUp = result !== undefined && result.log * pageSize >= restartBytes;
    // RESTART holds the write lock while it copies what is left and fsyncs: only once the
    // passes have left a few frames, so the main thread waits milliseconds, not a whole copy.
    if (catchingUp && (result.log - result.checkpointed) * pageSize <= restartResidueBytes) {
      const [restart] = db.pragma("wal_checkpoint(RESTART)");
      catchingUp = restart !== undefined && restart.busy !== 0;
    }
    parentPort.postMessage({ checkpointed: result ? result.checkpointed : 0 });
  } catch {
    // Busy or locked by another connection: the next tick tries again.
  }
}

const timer = setInterval(tick, pollMs);
parentPort.on("message", (message) => {
  if (message !== "stop") return;
  clearInterval(timer);
  if (shm !== null) closeSync(shm);
  db.close();
  parentPort.close();
});
`;

export class Checkpointer {
  private readonly thread: Worker;
  private stopping = false;
  private alive = true;
  private readonly exited: Promise<void>;
  /** Pages copied into the database file by this thread so far (for tests and diagnostics). */
  checkpointedFrames = 0;

  /** Starts the thread for the file of `db` (a WAL-mode connection of the caller's). */
  constructor(
    private readonly db: Database.Database,
    path: string,
    synchronous: "NORMAL" | "FULL",
  ) {
    const driver = betterSqlite3Path();
    this.thread = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        driver,
        path,
        synchronous,
        pollMs: POLL_MS,
        idleMs: IDLE_MS,
        checkpointBytes: CHECKPOINT_BYTES,
        restartBytes: RESTART_BYTES,
        restartResidueBytes: RESTART_RESIDUE_BYTES,
      },
      stdout: false,
      stderr: false,
    });
    this.thread.on("message", (message: { checkpointed: number }) => {
      this.checkpointedFrames += message.checkpointed;
    });
    // An error is followed by an exit; the exit is what restores automatic checkpoints.
    this.thread.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.thread.once("exit", () => {
        this.alive = false;
        if (!this.stopping) this.fallBack();
        resolve();
      });
    });
    // After the listeners: adding a "message" listener refs the thread again.
    this.thread.unref();
    db.pragma("wal_autocheckpoint = 0");
  }

  /** True while the thread runs. */
  get running(): boolean {
    return this.alive && !this.stopping;
  }

  /** Ends the thread, which closes its connection; resolves once it has exited. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      // Held while it winds down, so a caller awaiting close() is not cut short by an exit.
      this.thread.ref();
      this.thread.postMessage("stop");
    }
    await this.exited;
  }

  /** Kills the thread as a crash would (tests). */
  async kill(): Promise<void> {
    this.thread.ref();
    await this.thread.terminate();
    await this.exited;
  }

  private fallBack(): void {
    try {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    } catch {
      // The connection is closing: nothing to restore.
    }
  }
}

import { type ChildProcess, fork } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Checkback } from "../../packages/checkback/src/checkback.js";

/** Worker processes on one store, one queue each: one that listens to `error`, one that does not. */
export class FaultWorkers {
  readonly dir = mkdtempSync(join(tmpdir(), "checkback-fault-"));
  private readonly children: { queue: string; child: ChildProcess; exit: number | string | null }[] = [];

  async start(storeUrl: string, queue: string, mode: "listener" | "silent"): Promise<void> {
    const child = fork(join(import.meta.dirname, "worker-child.ts"), [storeUrl, queue, this.log(queue), mode], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const entry = { queue, child, exit: null as number | string | null };
    this.children.push(entry);
    child.once("exit", (code, signal) => (entry.exit = code ?? signal));
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`worker for ${queue} exited early with ${code}`)));
    });
  }

  /** Queues whose worker process has ended (none should). */
  exited(): string[] {
    return this.children.filter((c) => c.exit !== null).map((c) => `${c.queue} (exit ${c.exit})`);
  }

  /** Ids the worker of `queue` ran, once per run. */
  runs(queue: string): string[] {
    const path = this.log(queue);
    return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
  }

  /** Errors the `error` listener of the "listener" worker of `queue` heard. */
  errors(queue: string): string[] {
    const path = `${this.log(queue)}.errors`;
    return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.children.map(async ({ child, exit }) => {
        if (exit !== null) return;
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await gone;
      }),
    );
  }

  private log(queue: string): string {
    return join(this.dir, `${queue}.log`);
  }
}

/**
 * Adds `count` jobs to `queue`, due over the next `spreadMs`, retrying an add the store refuses
 * (it may be down). Returns the ids of the adds the store acknowledged.
 */
export async function addAcknowledged(
  cb: Checkback,
  queue: string,
  count: number,
  spreadMs: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    for (;;) {
      try {
        const job = await cb.queue(queue).add({ n }, { delay: Math.floor((n * spreadMs) / count) });
        ids.push(job.id);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
  return ids;
}

/**
 * A second process on the same SQLite file, for test/stores/sqlite.test.ts. It talks to the
 * test over IPC:
 *   claim <db> <queue>   waits for "go", claims in small batches until nothing is due, then
 *                        sends every { id, token } it was handed
 *   add <db> <queue> <n> adds n jobs due now in one batch, sends "added", then idles until killed
 *   linger <db> <queue>  subscribes and returns without closing: the process must still exit
 *   work <db> <queue> <log> runs a Worker that appends each job's id to <log>, sends "ready"
 */
import { appendFileSync } from "node:fs";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";

const [command, path, queue, count] = process.argv.slice(2) as [string, string, string, string | undefined];
const store = new SqliteStore({ path });

const job = (n: number): NewJob => ({
  queue,
  key: null,
  payload: JSON.stringify({ n }),
  when: { delayMs: 0 },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
});

switch (command) {
  case "claim": {
    process.once("message", async () => {
      const claimed: { id: string; token: string }[] = [];
      for (;;) {
        const { jobs } = await store.claimDue(queue, { limit: 5, leaseMs: 600_000 });
        if (jobs.length === 0) break;
        for (const j of jobs) claimed.push({ id: j.id, token: j.leaseToken! });
      }
      await store.close();
      process.send!(claimed, () => process.disconnect?.());
    });
    process.send!("ready");
    break;
  }
  case "add": {
    await store.add(Array.from({ length: Number(count) }, (_, n) => job(n)));
    process.send!("added");
    setInterval(() => {}, 60_000);
    break;
  }
  case "linger": {
    await store.add([job(0)]);
    store.subscribe(queue, () => {});
    process.disconnect?.();
    break;
  }
  case "work": {
    const cb = new Checkback({ store });
    const worker = cb.worker(queue, (active) => appendFileSync(count!, `${active.id}\n`), { concurrency: 10 });
    // Ready once the first claim found nothing: from then on the worker sleeps until woken.
    await new Promise((resolve) => setTimeout(resolve, 100));
    worker.on("error", (error) => console.error(error));
    process.send!("ready");
    break;
  }
  default:
    throw new Error(`unknown command ${command}`);
}

/**
 * A process with a worker and no `error` listener whose SQLite store is closed under it (the
 * issue's reproduction). It reports "survived" if it is still running well after the worker's
 * next claim, then exits 0; a worker that throws an unheard `error` would end it with exit 1.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Checkback } from "../../packages/checkback/src/checkback.js";

const dir = mkdtempSync(join(tmpdir(), "checkback-closed-"));
const cb = new Checkback({ store: `sqlite:${join(dir, "closed.db")}` });
await cb.queue("q").add({}, { delay: "300ms" });
cb.worker("q", () => {});
await cb.store.close();
// The worker's next claim (at the job's due time) meets the closed store.
await new Promise((resolve) => setTimeout(resolve, 1_500));
process.send?.("survived", () => process.exit(0));

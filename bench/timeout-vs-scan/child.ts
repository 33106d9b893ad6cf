import { type RunSpec, runApproach } from "./run.js";

/** One approach on one store, forked by bench/timeout-vs-scan.ts: the spec in argv, the result over IPC. */
const spec = JSON.parse(process.argv[2] ?? "null") as RunSpec | null;
if (!spec || typeof process.send !== "function") {
  process.stderr.write("bench/timeout-vs-scan/child.ts is started by bench/timeout-vs-scan.ts\n");
  process.exit(2);
}
try {
  const result = await runApproach(spec);
  process.send({ ok: true, result }, () => process.exit(0));
} catch (error) {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.send({ ok: false, error: message }, () => process.exit(1));
}

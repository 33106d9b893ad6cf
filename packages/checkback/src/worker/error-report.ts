/** Where a worker's store errors go when nobody listens to its `error` event. */
export type ErrorReporter = (error: Error) => void;

/** The default reporter writes at most one line per this interval. */
const REPORT_EVERY_MS = 30_000;

/**
 * The default reporter: a process warning (stderr, and `process.on("warning")`), then at most
 * one every 30 s saying how many were left out, so that an outage of minutes, retried every few
 * seconds by every worker, writes a few lines instead of flooding the log.
 */
export function warningReporter(source: string): ErrorReporter {
  let lastAt = Number.NEGATIVE_INFINITY;
  let skipped = 0;
  return (error) => {
    const now = performance.now();
    if (now - lastAt < REPORT_EVERY_MS) {
      skipped += 1;
      return;
    }
    lastAt = now;
    const more = skipped > 0 ? ` (and ${skipped} more errors in the last ${REPORT_EVERY_MS / 1000}s)` : "";
    skipped = 0;
    const code = (error as { code?: unknown }).code;
    process.emitWarning(`${source}: ${error.message || error.name}${more}`, {
      type: "CheckbackWarning",
      ...(typeof code === "string" ? { code } : {}),
    });
  };
}

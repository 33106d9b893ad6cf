import cliProgress from "cli-progress";

/**
 * A progress bar on stderr for phases that take more than a moment, so stdout carries only
 * the results. Without a terminal it prints nothing (cli-progress's default), which keeps
 * logs and --json output clean.
 */
export function progressBar(label: string, total: number): { update(done: number): void; stop(): void } {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label.padEnd(34)} {bar} {percentage}% | {value}/{total} | {duration_formatted} | eta {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (done) => bar.update(done),
    stop: () => bar.stop(),
  };
}

/** One line of status on stderr. */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

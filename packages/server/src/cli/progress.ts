import { Presets, SingleBar } from "cli-progress";

/**
 * A progress bar on stderr for long operations (bulk import, bulk redrive). It is drawn when
 * stderr is a terminal, or when asked for with --progress (then, on a pipe, as plain lines
 * every couple of seconds); --no-progress turns it off. Stdout stays clean either way.
 */
export interface Progress {
  advance(by: number): void;
  stop(): void;
}

export function startProgress(label: string, total: number, wanted: boolean | undefined): Progress {
  const enabled = wanted ?? process.stderr.isTTY === true;
  if (!enabled) return { advance() {}, stop() {} };
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 2_000,
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  let done = 0;
  return {
    advance(by) {
      done += by;
      bar.update(done);
    },
    stop() {
      bar.stop();
    },
  };
}

import type { ApiJob } from "@checkback/client";
import { formatDuration } from "checkback/internal";

/**
 * Two audiences: people read aligned tables and relative times; scripts pass --json and get
 * exactly what the server answered (or a documented summary object), one JSON document on
 * stdout. Notes and progress go to stderr so they never mix into piped output.
 */
export interface Output {
  json: boolean;
  /** Prints `value` as JSON with --json, otherwise the human rendering. */
  result(value: unknown, human: () => string): void;
  /** A remark for people (hints, summaries of what happened); stderr, suppressed with --json. */
  note(text: string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : ensureNewline(human()));
    },
    note(text) {
      if (!json) process.stderr.write(ensureNewline(text));
    },
  };
}

function ensureNewline(text: string): string {
  return text.endsWith("\n") || text === "" ? text : `${text}\n`;
}

/** Columns padded to their widest cell; the last column is left ragged. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** "2026-11-25T10:30:00.000Z (in 30m)": the instant, and how far it is from now. */
export function formatInstant(ms: number, now = Date.now()): string {
  const iso = new Date(ms).toISOString();
  const delta = ms - now;
  if (Math.abs(delta) < 1000) return `${iso} (now)`;
  return delta > 0 ? `${iso} (in ${formatDuration(delta)})` : `${iso} (${formatDuration(-delta)} ago)`;
}

export function jobTable(jobs: ApiJob[], now = Date.now()): string {
  if (jobs.length === 0) return "(no jobs)";
  // A GROUP column only when a job shown has a group: most queues have none.
  const grouped = jobs.some((job) => job.group);
  const headers = ["ID", "KEY", ...(grouped ? ["GROUP"] : []), "STATE", "RUN AT", "ATTEMPTS", "PAYLOAD"];
  return table(
    headers,
    jobs.map((job) => [
      job.id,
      job.key ?? "-",
      ...(grouped ? [job.group ?? "-"] : []),
      job.state,
      formatInstant(job.runAt, now),
      `${job.attempts}/${job.maxAttempts}`,
      clip(JSON.stringify(job.payload), 60),
    ]),
  );
}

/** One job in full: fields, then the payload, error history and result. */
export function jobDetails(job: ApiJob & { outcome?: string }, now = Date.now()): string {
  const fields: [string, string][] = [
    ["id", job.id],
    ["queue", job.queue],
    ["key", job.key ?? "-"],
    ["state", job.state],
    ["run at", formatInstant(job.runAt, now)],
    ["attempts", `${job.attempts}/${job.maxAttempts}`],
    ["created", formatInstant(job.createdAt, now)],
    ["updated", formatInstant(job.updatedAt, now)],
  ];
  // Older servers answer without a group: shown only when the job has one.
  if (job.group) fields.splice(3, 0, ["group", job.group]);
  if (job.outcome) fields.unshift(["outcome", job.outcome]);
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = fields.map(([name, value]) => `${`${name}:`.padEnd(width + 1)}  ${value}`);
  lines.push("payload:", indent(JSON.stringify(job.payload, null, 2)));
  if (job.errors.length > 0) {
    lines.push("errors:");
    for (const error of job.errors) {
      lines.push(`  attempt ${error.attempt} at ${new Date(error.at).toISOString()}: ${error.message}`);
    }
  }
  if (job.result !== null && job.result !== undefined)
    lines.push("result:", indent(JSON.stringify(job.result, null, 2)));
  return lines.join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

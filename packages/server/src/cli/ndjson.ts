import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { JobInput } from "@checkback/client";
import { resolveAddOptions } from "checkback/internal";

/**
 * Reading jobs from NDJSON: one JSON object per line, `{ "payload": …, "delay"?, "runAt"?,
 * "key"?, "replace"?, "attempts"?, "backoff"?, "group"? }`; blank lines are skipped. Each line is checked
 * with the library's own option rules, so a file with a typo is refused before anything is sent.
 */

export interface JobLine {
  /** 1-based line number in the file, for error messages. */
  line: number;
  job: JobInput;
}

export type LineResult = JobLine | { line: number; error: string };

const FIELDS = new Set(["payload", "delay", "runAt", "key", "replace", "attempts", "backoff", "group"]);

export async function* readJobLines(input: Readable): AsyncGenerator<LineResult> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === "") continue;
    try {
      yield { line, job: parseJobLine(text) };
    } catch (error) {
      yield { line, error: (error as Error).message };
    }
  }
}

/** Opens the file first, so a missing or unreadable file fails here rather than mid-stream. */
export async function openJobFile(path: string): Promise<Readable> {
  if (path === "-") return process.stdin;
  const handle = await open(path, "r");
  return handle.createReadStream();
}

export function parseJobLine(text: string): JobInput {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error("not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error('each line must be an object like {"payload": …}');
  }
  const record = value as Record<string, unknown>;
  for (const field of Object.keys(record)) {
    if (!FIELDS.has(field))
      throw new Error(`unknown field ${JSON.stringify(field)} (known: ${[...FIELDS].join(", ")})`);
  }
  if (!("payload" in record) || record.payload === undefined) throw new Error('missing "payload"');
  const job: JobInput = { ...(record as unknown as JobInput) };
  if (typeof record.runAt === "string") job.runAt = isoInstant(record.runAt);
  const { payload: _payload, ...options } = job;
  resolveAddOptions(options as Parameters<typeof resolveAddOptions>[0]);
  return job;
}

function isoInstant(text: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new Error(`runAt ${JSON.stringify(text)} is not an ISO date or epoch ms`);
  return ms;
}

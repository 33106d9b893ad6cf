import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiJob, CheckbackClient } from "../../packages/client/src/client.js";
import { parseJson, runCli } from "./run-cli.js";
import { startTestServer, type TestServer, uniqueQueue } from "./test-server.js";

let server: TestServer;
let dir: string;

beforeAll(async () => {
  // Small limits so that splitting a too-large chunk and a payload the server refuses can be seen.
  server = await startTestServer({ bodyLimit: "16kb", maxPayloadBytes: "1kb" });
  dir = await mkdtemp(join(tmpdir(), "checkback-cli-"));
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Checks state directly, so that only the command under test is spawned. */
const api = () => new CheckbackClient({ url: server.url });
const cli = (args: string[], input?: string) =>
  runCli(args, input === undefined ? { url: server.url } : { url: server.url, input });

async function ndjsonFile(name: string, lines: unknown[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
  return path;
}

interface Summary {
  queue: string;
  total: number;
  skipped: number;
  imported: number;
  created: number;
  existing: number;
  replaced: number;
  ms: number;
}

describe("checkback import against a running server", { timeout: 60_000 }, () => {
  it("imports every line in chunks, with a progress bar and a summary; again, keys keep the existing jobs", async () => {
    const queue = uniqueQueue();
    const lines = Array.from({ length: 1200 }, (_, n) => ({ payload: { n }, key: `user-${n}`, delay: "1h" }));
    const file = await ndjsonFile("users.ndjson", lines);

    const run = await cli(["import", file, "-q", queue, "--chunk-size", "100", "--progress"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^imported 1200 jobs into ${queue} in \\d+\\.\\ds: 1200 created\\n$`));
    expect(run.stderr).toMatch(/import \[.*\] 100% \| 1200\/1200/);
    expect((await api().counts(queue)).scheduled).toBe(1200);

    const again = await cli(["import", file, "-q", queue, "--json", "--no-progress"]);
    expect(again.stderr).toBe("");
    expect(parseJson<Summary>(again)).toMatchObject({ queue, total: 1200, imported: 1200, created: 0, existing: 1200 });
    expect((await api().counts(queue)).scheduled).toBe(1200);
  });

  it("keeps each line's options, and applies --delay to lines without their own", async () => {
    const queue = uniqueQueue();
    const runAt = Date.parse("2030-05-01T08:00:00Z");
    const input = [
      JSON.stringify({ payload: "a", runAt: "2030-05-01T08:00:00Z", attempts: 7, backoff: ["1s", "1m"] }),
      "",
      JSON.stringify({ payload: "b" }),
    ].join("\n");
    const before = Date.now();
    const run = await cli(["import", "-", "-q", queue, "--delay", "2h", "--json"], input);
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson<Summary>(run)).toMatchObject({ total: 2, imported: 2, created: 2 });
    const page = await api().list(queue, "scheduled");
    const [a, b] = page.jobs as [ApiJob, ApiJob];
    expect(a).toMatchObject({ payload: "a", runAt, maxAttempts: 7 });
    expect(b.payload).toBe("b");
    expect(b.runAt).toBeGreaterThanOrEqual(before + 2 * 3_600_000);
  });

  it("splits a chunk the server finds too large and still imports everything", async () => {
    const queue = uniqueQueue();
    // 60 jobs of ~600 bytes: ~36 KB in one chunk, over the 16 KB body limit.
    const lines = Array.from({ length: 60 }, (_, n) => ({ payload: { n, pad: "x".repeat(600) } }));
    const file = await ndjsonFile("big.ndjson", lines);
    const run = await cli(["import", file, "-q", queue, "--chunk-size", "60", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson<Summary>(run)).toMatchObject({ imported: 60, created: 60 });
    const page = await api().list(queue, "scheduled", { limit: 100 });
    expect(page.jobs.map((job) => (job.payload as { n: number }).n)).toEqual(lines.map((_, n) => n));
  });

  it("stops at a chunk the server refuses, says where, and --skip resumes without duplicates", async () => {
    const queue = uniqueQueue();
    const lines: unknown[] = Array.from({ length: 10 }, (_, n) => ({ payload: { n } }));
    lines[6] = { payload: { n: 6, pad: "x".repeat(2_000) } }; // over the 1 KB payload limit
    const file = await ndjsonFile("partly-bad.ndjson", lines);

    const run = await cli(["import", file, "-q", queue, "--chunk-size", "5"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("error: PAYLOAD_TOO_LARGE: ");
    const resume = /resume with --skip (\d+)/.exec(run.stderr);
    expect(resume, run.stderr).not.toBeNull();
    const skip = Number(resume![1]);
    // Everything before the refused job went in, in order, and nothing after it.
    const imported = (await api().list(queue, "scheduled")).jobs.map((job) => (job.payload as { n: number }).n);
    expect(imported).toEqual(Array.from({ length: skip }, (_, n) => n));
    expect(skip).toBe(6);

    lines[6] = { payload: { n: 6 } };
    const fixed = await ndjsonFile("fixed.ndjson", lines);
    const resumed = await cli(["import", fixed, "-q", queue, "--skip", String(skip), "--json"]);
    expect(parseJson<Summary>(resumed)).toMatchObject({ total: 10, skipped: 6, imported: 4, created: 4 });
    const all = (await api().list(queue, "scheduled")).jobs.map((job) => (job.payload as { n: number }).n);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

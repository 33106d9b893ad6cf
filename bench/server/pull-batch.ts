/**
 * HTTP pull end to end, one job at a time against batches: how many jobs/s consumers drain
 * from a server over HTTP when each job costs a claim and a complete of its own, and when a
 * claim takes `--batch` jobs and one completeMany settles them all. The server runs in a child
 * process (`checkback serve`), the consumers in this one, on the same machine.
 *
 *   npx tsx bench/server/pull-batch.ts [--store sqlite|memory] [--duration 10] [--connections 16]
 *       [--batch 100] [--consumers 4] [--only single|batched] [--profile DIR]
 *       [--base DIR] [--rounds 1] [--compiled]
 *
 * single: `--connections` loops, each `POST …/claim {limit: 1}` then `POST …/jobs/:id/complete`,
 * over node:http with keep-alive (a light load generator: the figure is the server's).
 * batched: `--consumers` loops, each `client.claim({ limit: batch })` then
 * `client.completeMany(…)` with @checkback/client (fetch), as a consumer in production would.
 * Each run drains a prefilled queue of due jobs for `--duration` seconds (or until it is empty)
 * and counts the jobs answered completed. CPU seconds of the server process (from /proc) and
 * of this process are reported per run, so the split between them is visible.
 * `--profile DIR` starts the server with `node --cpu-prof --cpu-prof-dir DIR` (written at exit).
 * `--base DIR` measures the server of another checkout (DIR, with its own node_modules) beside
 * this one's, each run on a fresh server, in turn; `--rounds N` repeats the pairs, alternating
 * which goes first. bench/server/profile-top.ts reads a profile. `--compiled` builds each
 * checkout's packages to dist/ and runs the server from there, as an installed one runs
 * (server-process.ts says why that matters).
 */
import { Agent, request } from "node:http";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { CheckbackClient } from "@checkback/client";
import { buildServer, cpuSecondsOf, type Server, startServer, stopServer } from "./server-process.js";

const { values } = parseArgs({
  options: {
    store: { type: "string", default: "sqlite" },
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "16" },
    batch: { type: "string", default: "100" },
    consumers: { type: "string", default: "4" },
    only: { type: "string" },
    profile: { type: "string" },
    base: { type: "string" },
    compiled: { type: "boolean", default: false },
    rounds: { type: "string", default: "1" },
  },
});
const durationMs = Number(values.duration) * 1000;
const connections = Number(values.connections);
const batch = Number(values.batch);
const consumers = Number(values.consumers);
const rounds = Number(values.rounds);

interface RunResult {
  jobs: number;
  seconds: number;
  requests: number;
  refused: number;
  serverCpuS: number;
  loadCpuS: number;
  ranDry: boolean;
}

/** A keep-alive POST over node:http: JSON in, status and parsed JSON out. */
function poster(base: string, sockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const { hostname, port } = new URL(base);
  return (path: string, body: unknown) =>
    new Promise<{ status: number; body: { jobs?: { id: string; leaseToken: string }[] } }>((resolve, reject) => {
      const text = JSON.stringify(body);
      const outgoing = request(
        {
          agent,
          hostname,
          port,
          path,
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) },
        },
        (response) => {
          let data = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            data += chunk;
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(data) }));
        },
      );
      outgoing.on("error", reject);
      outgoing.end(text);
    });
}

async function prefill(client: CheckbackClient, queue: string, total: number): Promise<number> {
  const started = performance.now();
  const payload = { order: 1001, amount: 100 };
  for (let sent = 0; sent < total; sent += 1000) {
    await client.addBulk(
      queue,
      Array.from({ length: Math.min(1000, total - sent) }, () => ({ payload })),
    );
  }
  return Math.round(total / ((performance.now() - started) / 1000));
}

/** Runs `loops` copies of `step` until the time is up or a step finds the queue empty. */
async function drain(
  server: Server,
  loops: number,
  step: () => Promise<{ jobs: number; requests: number; refused: number }>,
): Promise<RunResult> {
  const serverCpu = cpuSecondsOf(server.child.pid!);
  const loadCpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + durationMs;
  let jobs = 0;
  let requests = 0;
  let refused = 0;
  let ranDry = false;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (!ranDry && performance.now() < deadline) {
        const done = await step();
        requests += done.requests;
        refused += done.refused;
        if (done.jobs === 0 && done.refused === 0) ranDry = true;
        jobs += done.jobs;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const load = process.cpuUsage(loadCpu);
  return {
    jobs,
    seconds,
    requests,
    refused,
    serverCpuS: cpuSecondsOf(server.child.pid!) - serverCpu,
    loadCpuS: (load.user + load.system) / 1e6,
    ranDry,
  };
}

function report(name: string, prefillRate: number, run: RunResult) {
  return {
    run: name,
    "jobs/s": Math.round(run.jobs / run.seconds),
    jobs: run.jobs,
    "requests/s": Math.round(run.requests / run.seconds),
    "server CPU µs/job": Math.round((run.serverCpuS * 1e6) / run.jobs),
    "load gen CPU µs/job": Math.round((run.loadCpuS * 1e6) / run.jobs),
    "server CPU %": Math.round((100 * run.serverCpuS) / run.seconds),
    refused: run.refused,
    "ran dry": run.ranDry,
    "bulk add jobs/s": prefillRate,
  };
}

async function single(server: Server, client: CheckbackClient) {
  const queue = "bench-pull-single";
  const prefillRate = await prefill(client, queue, Math.max(50_000, Math.round(durationMs * 15)));
  const post = poster(server.url, connections);
  const run = await drain(server, connections, async () => {
    const claimed = await post(`/v1/queues/${queue}/claim`, { limit: 1, lease: "60s" });
    const job = claimed.body.jobs?.[0];
    if (!job) return { jobs: 0, requests: 1, refused: 0 };
    const done = await post(`/v1/queues/${queue}/jobs/${encodeURIComponent(job.id)}/complete`, {
      leaseToken: job.leaseToken,
    });
    return done.status === 200 ? { jobs: 1, requests: 2, refused: 0 } : { jobs: 0, requests: 2, refused: 1 };
  });
  return report("single (claim 1 + complete)", prefillRate, run);
}

async function batched(server: Server, client: CheckbackClient) {
  const queue = "bench-pull-batched";
  const prefillRate = await prefill(client, queue, Math.max(100_000, Math.round(durationMs * 40)));
  const run = await drain(server, consumers, async () => {
    const { jobs } = await client.claim(queue, { limit: batch, lease: "60s" });
    if (jobs.length === 0) return { jobs: 0, requests: 1, refused: 0 };
    const { results } = await client.completeMany(
      queue,
      jobs.map((job) => ({ id: job.id, leaseToken: job.leaseToken })),
    );
    const ok = results.filter((result) => result.ok).length;
    return { jobs: ok, requests: 2, refused: results.length - ok };
  });
  return report(`batched (claim ${batch} + completeMany)`, prefillRate, run);
}

const compiled = values.compiled!;
/** The servers to measure: this checkout's, and with `--base DIR` the one in DIR beside it. */
const versions = [
  ...(values.base ? [{ name: "base", root: values.base, nodeArgs: [] as string[] }] : []),
  {
    name: values.base ? "this" : "",
    root: process.cwd(),
    nodeArgs: values.profile ? ["--cpu-prof", "--cpu-prof-dir", values.profile] : [],
  },
];
if (compiled) for (const version of versions) buildServer(version.root);
const kinds = [
  ...(values.only !== "batched" ? [{ name: "single", run: single }] : []),
  ...(values.only !== "single" ? [{ name: "batched", run: batched }] : []),
];

console.log(
  `# server on ${values.store}; ${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(2)}; ${durationMs / 1000} s per run; single: ${connections} connections; batched: ${consumers} consumers × ${batch}; ${process.version}`,
);
const rows = [];
for (let round = 0; round < rounds; round++) {
  for (const kind of kinds) {
    // Alternate which version goes first, so neither always meets the machine's state first.
    const order = round % 2 === 0 ? versions : [...versions].reverse();
    for (const version of order) {
      const server = await startServer(values.store!, { nodeArgs: version.nodeArgs, root: version.root, compiled });
      try {
        const row = await kind.run(server, new CheckbackClient({ url: server.url }));
        rows.push({ ...(version.name ? { server: version.name } : {}), ...row, load: loadavg()[0]!.toFixed(2) });
      } finally {
        await stopServer(server);
      }
    }
  }
}
console.table(rows);
console.log(`# load at the end ${loadavg()[0]!.toFixed(2)}`);

/**
 * Load run of the HTTP server: add throughput, claim/complete throughput, and how late push
 * deliveries arrive. The server runs in a child process (as in production), autocannon and the
 * push receiver in this one.
 *
 *   npx tsx bench/server/run.ts [--store sqlite|memory] [--duration 10] [--connections 16]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { type Server, startServer, stopServer } from "./server-process.js";

const { values } = parseArgs({
  options: {
    store: { type: "string", default: "sqlite" },
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "16" },
    "push-jobs": { type: "string", default: "5000" },
  },
});
const durationS = Number(values.duration);
const connections = Number(values.connections);
const pushJobs = Number(values["push-jobs"]);
const json = { "content-type": "application/json" };

async function api<T>(server: Server, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(server.url + path, {
    method,
    headers: json,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function benchAdd(server: Server) {
  const result = await autocannon({
    url: `${server.url}/v1/queues/bench-add/jobs`,
    method: "POST",
    headers: json,
    body: JSON.stringify({ payload: { order: 1001, amount: 100 }, delay: "1h" }),
    connections,
    duration: durationS,
  });
  return {
    "jobs/s": Math.round(result.requests.average),
    "p50 ms": result.latency.p50,
    "p99 ms": result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

async function benchBulkAdd(server: Server, total: number, queue: string) {
  const started = performance.now();
  for (let sent = 0; sent < total; sent += 1000) {
    const jobs = Array.from({ length: Math.min(1000, total - sent) }, (_, i) => ({ payload: { n: sent + i } }));
    await api(server, "POST", `/v1/queues/${queue}/jobs/bulk`, { jobs });
  }
  return Math.round(total / ((performance.now() - started) / 1000));
}

async function benchClaimComplete(server: Server, prefill: number) {
  const queue = "bench-pull";
  const bulkRate = await benchBulkAdd(server, prefill, queue);
  const result = await autocannon({
    url: server.url,
    connections,
    duration: durationS,
    requests: [
      {
        method: "POST",
        path: `/v1/queues/${queue}/claim`,
        headers: json,
        body: JSON.stringify({ limit: 1, lease: "60s" }),
        onResponse: (_status, body, context) => {
          context.job = (JSON.parse(body) as { jobs: { id: string; leaseToken: string }[] }).jobs[0];
        },
      },
      {
        method: "POST",
        headers: json,
        setupRequest: (request, context) => {
          const job = context.job as { id: string; leaseToken: string } | undefined;
          // The queue ran dry: a harmless request keeps the pair shape.
          if (!job) return { ...request, method: "GET", path: `/v1/queues/${queue}/counts`, body: undefined };
          return {
            ...request,
            path: `/v1/queues/${queue}/jobs/${job.id}/complete`,
            body: JSON.stringify({ leaseToken: job.leaseToken }),
          };
        },
      },
    ],
  });
  const counts = await api<{ completed: number; scheduled: number }>(server, "GET", `/v1/queues/${queue}/counts`);
  // Retention trims completed pull jobs to the newest 1000, so count what left the queue.
  const done = prefill - counts.scheduled;
  return {
    "bulk add jobs/s": bulkRate,
    "claim+complete jobs/s": Math.round(done / result.duration),
    "requests/s": Math.round(result.requests.average),
    "p50 ms": result.latency.p50,
    "p99 ms": result.latency.p99,
    errors: result.errors + result.non2xx,
    ran_dry: counts.scheduled === 0,
  };
}

/** Push deliveries: jobs due at a light and a heavier steady rate, and a burst due at one instant. */
async function benchPush(server: Server) {
  const lateness: number[] = [];
  let received = 0;
  const receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const at = Date.now();
      lateness.push(at - (JSON.parse(body) as { runAt: number }).runAt);
      received += 1;
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const port = (receiver.address() as AddressInfo).port;
  const results: Record<string, unknown>[] = [];
  try {
    // Light: 100 jobs/s; steady: pushJobs spread over 5 s; burst: pushJobs due at one instant.
    const shapes = [
      { name: "light", count: 500, spreadMs: 5_000 },
      { name: "steady", count: pushJobs, spreadMs: 5_000 },
      { name: "burst", count: pushJobs, spreadMs: 0 },
    ];
    for (const shape of shapes) {
      const queue = `bench-push-${shape.name}`;
      lateness.length = 0;
      received = 0;
      await api(server, "PUT", `/v1/queues/${queue}/push`, { url: `http://127.0.0.1:${port}/hook`, concurrency: 32 });
      const start = Date.now() + 2_000;
      for (let sent = 0; sent < shape.count; sent += 1000) {
        const jobs = Array.from({ length: Math.min(1000, shape.count - sent) }, (_, i) => ({
          payload: { n: sent + i },
          runAt: start + Math.floor(((sent + i) * shape.spreadMs) / shape.count),
        }));
        await api(server, "POST", `/v1/queues/${queue}/jobs/bulk`, { jobs });
      }
      while (received < shape.count) await new Promise((resolve) => setTimeout(resolve, 50));
      const drainedMs = Date.now() - start - shape.spreadMs;
      const sorted = [...lateness].sort((a, b) => a - b);
      results.push({
        shape:
          shape.spreadMs > 0
            ? `${shape.count / (shape.spreadMs / 1000)}/s for ${shape.spreadMs / 1000} s`
            : `${shape.count} due at once`,
        "p50 ms": percentile(sorted, 50),
        "p90 ms": percentile(sorted, 90),
        "p99 ms": percentile(sorted, 99),
        "max ms": sorted.at(-1),
        "deliveries/s": shape.spreadMs === 0 ? Math.round(shape.count / (drainedMs / 1000)) : "",
      });
      await api(server, "DELETE", `/v1/queues/${queue}/push`);
    }
  } finally {
    receiver.close();
  }
  return results;
}

const server = await startServer(values.store!);
try {
  console.log(
    `# server on ${values.store}; ${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(2)}; ${connections} connections, ${durationS} s per run; ${process.version}`,
  );
  console.log("add:", await benchAdd(server));
  console.log("claim/complete:", await benchClaimComplete(server, 150_000));
  console.table(await benchPush(server));
  console.log(`# load at the end ${loadavg()[0]!.toFixed(2)}`);
} finally {
  await stopServer(server);
}

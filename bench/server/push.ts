/**
 * Push delivery lateness and throughput: the server (a child process, `server-process.ts`)
 * pushes queues to plain `node:http` receivers on 127.0.0.1 in this process, one receiver per
 * queue. Jobs are bulk-added ahead with `runAt` instants spread evenly over the window, so the
 * due instant of each is known; lateness is the receiver's `Date.now()` on arrival minus
 * `runAt` (claim + signed POST + transit). Each phase ends when every job has arrived.
 *
 *   npx tsx bench/server/push.ts [--store sqlite] [--seconds 10] [--targets 4] [--rate 1000]
 *     [--concurrent-rate 1500] [--concurrency 32] [--profile DIR] [--base DIR] [--compiled]
 *
 * Phases: one target at --rate jobs/s; --targets targets at --concurrent-rate jobs/s each; then
 * --targets bursts of (concurrent-rate × seconds / 2) jobs each, all due at one instant
 * (deliveries/s = jobs over the time from the due instant to the last arrival).
 * `--profile DIR`: the server runs under `node --cpu-prof --cpu-prof-dir DIR` (profile-top.ts
 * reads it). `--base DIR`: the phases run first against the server of another checkout (DIR,
 * with its own node_modules), then against this one's. `--compiled`: each server runs from
 * its packages' dist/, built first, as an installed one runs (server-process.ts).
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { buildServer, cpuSecondsOf, type Server, startServer, stopServer } from "./server-process.js";

const { values } = parseArgs({
  options: {
    store: { type: "string", default: "sqlite" },
    seconds: { type: "string", default: "10" },
    targets: { type: "string", default: "4" },
    rate: { type: "string", default: "1000" },
    "concurrent-rate": { type: "string", default: "1500" },
    concurrency: { type: "string", default: "32" },
    profile: { type: "string" },
    base: { type: "string" },
    compiled: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const targets = Number(values.targets);
const concurrency = Number(values.concurrency);
const json = { "content-type": "application/json" };

async function api(server: Server, method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(server.url + path, {
    method,
    headers: json,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

interface Receiver {
  http: HttpServer;
  port: number;
  lateness: number[];
  lastArrival: number;
}

async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = { http: createServer(), port: 0, lateness: [], lastArrival: 0 };
  receiver.http.on("request", (request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const at = Date.now();
      receiver.lateness.push(at - (JSON.parse(body) as { runAt: number }).runAt);
      receiver.lastArrival = at;
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.http.listen(0, "127.0.0.1", resolve));
  receiver.port = (receiver.http.address() as AddressInfo).port;
  return receiver;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

let phaseNumber = 0;

/** `perTarget` jobs on each of `count` queues, due evenly over `spreadMs` (0: all at once). */
async function phase(server: Server, name: string, count: number, perTarget: number, spreadMs: number) {
  phaseNumber += 1;
  const receivers = await Promise.all(Array.from({ length: count }, startReceiver));
  const queues = receivers.map((_, i) => `push-${phaseNumber}-${i}`);
  const loadBefore = loadavg()[0]!;
  try {
    for (const [i, receiver] of receivers.entries()) {
      await api(server, "PUT", `/v1/queues/${queues[i]}/push`, {
        url: `http://127.0.0.1:${receiver.port}/hook`,
        concurrency,
      });
    }
    // Leave time to add everything before the first job falls due.
    const start = Date.now() + 2_000 + Math.ceil((count * perTarget) / 50);
    for (const queue of queues) {
      for (let sent = 0; sent < perTarget; sent += 1000) {
        const jobs = Array.from({ length: Math.min(1000, perTarget - sent) }, (_, i) => ({
          payload: { n: sent + i },
          runAt: start + Math.floor(((sent + i) * spreadMs) / perTarget),
        }));
        await api(server, "POST", `/v1/queues/${queue}/jobs/bulk`, { jobs });
      }
    }
    if (Date.now() > start) console.warn(`# ${name}: adding overran the first due instant`);
    const serverCpu = cpuSecondsOf(server.child.pid!);
    const deadline = start + spreadMs + 120_000;
    const received = () => receivers.reduce((sum, r) => sum + r.lateness.length, 0);
    while (received() < count * perTarget && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const lastArrival = Math.max(...receivers.map((r) => r.lastArrival));
    const sorted = receivers.flatMap((r) => r.lateness).sort((a, b) => a - b);
    const drainMs = Math.max(lastArrival - start, 1);
    return {
      phase: name,
      targets: count,
      jobs: count * perTarget,
      received: sorted.length,
      "p50 ms": percentile(sorted, 50),
      "p90 ms": percentile(sorted, 90),
      "p99 ms": percentile(sorted, 99),
      "max ms": sorted.at(-1),
      // First due instant to last arrival: the offered rate when lateness stays low.
      "deliveries/s": Math.round(sorted.length / (drainMs / 1000)),
      // From just before the first due instant to the last arrival (the adds are not in it).
      "server CPU µs/delivery": Math.round(((cpuSecondsOf(server.child.pid!) - serverCpu) * 1e6) / sorted.length),
      load: `${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
    };
  } finally {
    for (const queue of queues) await api(server, "DELETE", `/v1/queues/${queue}/push`).catch(() => {});
    for (const receiver of receivers) receiver.http.close();
  }
}

const compiled = values.compiled!;
/** The servers to measure: this checkout's, and with `--base DIR` the one in DIR before it. */
const versions = [
  ...(values.base ? [{ name: "base", root: values.base, nodeArgs: [] as string[] }] : []),
  {
    name: values.base ? "this" : "",
    root: process.cwd(),
    nodeArgs: values.profile ? ["--cpu-prof", "--cpu-prof-dir", values.profile] : [],
  },
];
if (compiled) for (const version of versions) buildServer(version.root);
console.log(
  `# push on ${values.store}; ${availableParallelism()} CPUs, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}; push concurrency ${concurrency} per target; ${process.version}`,
);
const rate = Number(values.rate);
const concurrentRate = Number(values["concurrent-rate"]);
const results = [];
for (const version of versions) {
  const server = await startServer(values.store!, { nodeArgs: version.nodeArgs, root: version.root, compiled });
  try {
    const phases = [
      await phase(server, `${rate}/s, 1 target`, 1, rate * seconds, seconds * 1000),
      await phase(server, `${concurrentRate}/s per target`, targets, concurrentRate * seconds, seconds * 1000),
      await phase(server, "burst, due at once", targets, (concurrentRate * seconds) / 2, 0),
    ];
    results.push(...phases.map((row) => (version.name ? { server: version.name, ...row } : row)));
  } finally {
    await stopServer(server);
  }
}
console.table(results);
console.log(
  `# load at the end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);

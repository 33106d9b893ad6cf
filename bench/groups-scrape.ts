/**
 * What the group gauges and the busiest-groups route cost a scrape, apart from the full
 * benchmark (bench/run.ts):
 *   npx tsx bench/groups-scrape.ts [groups=10000]
 *
 * On a server over the memory store and over an SQLite file, `groups` jobs are added, each in a
 * group of its own, and all claimed, so that many groups have an active job. Then GET /metrics
 * (which reads each queue's 20 busiest groups once) and GET /v1/queues/:queue/groups?limit=20 are
 * timed, 20 times each: median and max.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveServerConfig } from "../packages/server/src/http/config.js";
import { startServer } from "../packages/server/src/http/start.js";

const groups = Number(process.argv[2] ?? 10_000);
const SAMPLES = 20;
const dir = await mkdtemp(join(tmpdir(), "checkback-groups-scrape-"));

async function timed(url: string): Promise<string> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = performance.now();
    await (await fetch(url)).text();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return `median ${samples[SAMPLES / 2]!.toFixed(1)} ms, max ${samples[SAMPLES - 1]!.toFixed(1)} ms`;
}

try {
  for (const store of ["memory:", `sqlite:${join(dir, "groups.db")}`]) {
    const server = await startServer(resolveServerConfig({ store, port: 0, logLevel: "silent" }));
    const post = async (path: string, body: unknown) =>
      (
        await fetch(server.url + path, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        })
      ).json();
    try {
      for (let from = 0; from < groups; from += 5_000) {
        const count = Math.min(5_000, groups - from);
        const jobs = Array.from({ length: count }, (_, i) => ({ payload: 1, group: `merchant-${from + i}` }));
        await post("/v1/queues/payouts/jobs/bulk", { jobs });
      }
      for (let claimed = 0; claimed < groups; ) {
        claimed += (await post("/v1/queues/payouts/claim", { limit: 1_000, lease: "10m" })).jobs.length;
      }
      const metrics = await timed(`${server.url}/metrics`);
      const busiest = await timed(`${server.url}/v1/queues/payouts/groups?limit=20`);
      console.log(`${store.split(":")[0]}, ${groups} active groups: GET /metrics ${metrics}; GET …/groups ${busiest}`);
    } finally {
      await server.close();
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

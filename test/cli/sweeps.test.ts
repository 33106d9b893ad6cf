import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SweepRun, SweepStatus } from "../../packages/client/src/client.js";
import { type Receiver, startReceiver } from "../server/helpers.js";
import { parseJson, runCli } from "./run-cli.js";
import { startTestServer, type TestServer, uniqueQueue } from "./test-server.js";

let server: TestServer;
let pages: Receiver;
let items: Receiver;
const RECORDS = 300;

beforeAll(async () => {
  server = await startTestServer();
  // A slow table, so that a watch sees the run going: 30 pages of 10, 40 ms each.
  pages = await startReceiver((_request, body, response) => {
    const { cursor } = JSON.parse(body) as { cursor: string | null };
    const from = cursor === null ? 0 : Number(cursor);
    const to = Math.min(RECORDS, from + 10);
    setTimeout(() => {
      response.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          items: Array.from({ length: to - from }, (_, i) => from + i),
          next: to < RECORDS ? String(to) : null,
        }),
      );
    }, 40);
  });
  items = await startReceiver((_request, _body, response) => response.writeHead(204).end());
});

afterAll(async () => {
  await server?.close();
  await pages?.close();
  await items?.close();
});

const cli = (args: string[]) => runCli(args, { url: server.url });

async function define(name: string): Promise<void> {
  const answer = await fetch(`${server.url}/v1/sweeps/${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pageUrl: pages.url, itemUrl: items.url, total: RECORDS }),
  });
  expect(answer.status).toBe(200);
}

describe("checkback sweeps against a running server", { timeout: 60_000 }, () => {
  it("lists, starts, watches to the end with a progress bar, and shows the history", async () => {
    const name = uniqueQueue("sweep");
    await define(name);
    const listed = parseJson<{ sweeps: SweepStatus[] }>(await cli(["sweeps", "list", "--json"]));
    expect(listed.sweeps.find((s) => s.name === name)).toMatchObject({ state: "idle" });

    const started = await cli(["sweeps", "start", name]);
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/^started run \S+ of sweep/);

    const watched = await cli(["sweeps", "status", name, "--watch", "--interval", "100ms", "--progress", "--json"]);
    expect(watched.code).toBe(0);
    const final = parseJson<SweepStatus>(watched);
    expect(final).toMatchObject({ state: "completed", run: { items: RECORDS, pages: 30, total: RECORDS } });
    // The bar was drawn on stderr, ending at the whole table; stdout holds only the JSON.
    expect(watched.stderr).toContain(`${RECORDS}/${RECORDS} items`);
    expect(watched.stderr).toMatch(/\d+\/300 items \| \d+ pages/);

    const human = await cli(["sweeps", "status", name]);
    expect(human.stdout).toContain(`sweep ${name}: completed`);
    expect(human.stdout).toMatch(/progress\s+30 pages, 300\/300 items, 0 failed/);

    const runs = parseJson<{ runs: SweepRun[] }>(await cli(["sweeps", "runs", name, "--json"]));
    expect(runs.runs).toHaveLength(1);
    expect(runs.runs[0]).toMatchObject({ state: "completed", items: RECORDS });
  });

  it("cancels a run, and names an unknown sweep", async () => {
    const name = uniqueQueue("sweep");
    await define(name);
    expect((await cli(["sweeps", "start", name])).code).toBe(0);
    const cancelled = parseJson<{ cancelled: boolean }>(await cli(["sweeps", "cancel", name, "--json"]));
    expect(cancelled).toEqual({ cancelled: true });
    const status = parseJson<SweepStatus>(await cli(["sweeps", "status", name, "--json"]));
    expect(status.state).toBe("cancelled");

    const missing = await cli(["sweeps", "status", "no-such-sweep"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("SWEEP_NOT_FOUND");
  });
});

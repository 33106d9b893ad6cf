import type { IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveServerConfig } from "../../packages/server/src/http/config.js";
import { type RunningServer, startServer } from "../../packages/server/src/http/start.js";
import { Api, type Receiver, startReceiver, uniqueQueue } from "../server/helpers.js";
import { waitFor } from "../support/wait.js";
import { exporter, parentOf, spansNamed } from "./otel-setup.js";

const ADMIN = "admin-token-5e7b9c1d";
const PASSWORD = "pa55-w0rd-9f3e";
const QUERY_SECRET = "q-s3cr3t-77aa";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PRODUCER_SPAN = "00f067aa0ba902b7";

/** Every log line the server writes, parsed. */
const lines: Record<string, unknown>[] = [];
const logText = () => lines.map((line) => JSON.stringify(line)).join("\n");

describe("observability through the HTTP server", () => {
  let server: RunningServer;
  let api: Api;
  let receiver: Receiver;
  const received: { headers: IncomingHttpHeaders; body: { id: string } }[] = [];

  beforeAll(async () => {
    // The first delivery fails (a logged, traced retry); later ones succeed.
    receiver = await startReceiver((request, body, response) => {
      received.push({ headers: request.headers, body: JSON.parse(body) });
      response.statusCode = received.length === 1 ? 500 : 200;
      response.end("{}");
    });
    const config = resolveServerConfig({
      store: "memory:",
      port: 0,
      logLevel: "debug",
      tokens: `${ADMIN}:admin`,
    });
    server = await startServer(config, {
      logStream: { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    api = new Api(server.url, ADMIN);
  });
  afterAll(async () => {
    await server.close();
    await receiver.close();
  });

  it("continues a producer's traceparent through the job to its push delivery, and logs the trace", async () => {
    const queue = uniqueQueue("traced");
    const base = new URL(receiver.url);
    const target = `http://hook:${PASSWORD}@${base.host}/deliveries?token=${QUERY_SECRET}`;
    const put = await api.put(`/v1/queues/${queue}/push`, { url: target, timeout: "5s", concurrency: 1 });
    expect(put.status).toBe(200);

    exporter.reset();
    const added = await api.send(
      "POST",
      `/v1/queues/${queue}/jobs`,
      { payload: { order: 7 }, backoff: 10 },
      {
        headers: {
          authorization: `Bearer ${ADMIN}`,
          "content-type": "application/json",
          traceparent: `00-${TRACE_ID}-${PRODUCER_SPAN}-01`,
        },
      },
    );
    expect(added.status).toBe(201);
    await waitFor(() => received.length >= 2, 10_000);

    for (const { headers, body } of received) {
      expect(body.id).toBe(added.body.id);
      const [version, traceId, spanId, flags] = String(headers.traceparent).split("-");
      expect([version, traceId, flags]).toEqual(["00", TRACE_ID, "01"]);
      expect(spanId).not.toBe(PRODUCER_SPAN);
      // The credentials of the target URL still reach the receiver: only logs and answers hide them.
      expect(headers.authorization).toBe(`Basic ${Buffer.from(`hook:${PASSWORD}`).toString("base64")}`);
    }
    const [add] = spansNamed("checkback.add", TRACE_ID);
    expect(parentOf(add!)).toBe(PRODUCER_SPAN);
    await waitFor(() => spansNamed("checkback.complete", TRACE_ID).length === 1, 5_000);
    const attempts = spansNamed("checkback.process", TRACE_ID);
    expect(attempts.map((s) => s.spanContext().spanId).sort()).toEqual(
      received.map((r) => String(r.headers.traceparent).split("-")[2]).sort(),
    );

    const failed = lines.find((line) => line.msg === "push delivery failed");
    expect(failed).toMatchObject({ queue, jobId: added.body.id, traceId: TRACE_ID });

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`checkback_jobs_claimed_total\\{queue="${queue}",delivery="push"\\} 2`));
    expect(metrics).toMatch(new RegExp(`checkback_job_retries_total\\{queue="${queue}",delivery="push"\\} 1`));
    expect(metrics).toMatch(new RegExp(`checkback_jobs_completed_total\\{queue="${queue}",delivery="push"\\} 1`));
    expect(metrics).toMatch(new RegExp(`checkback_job_lateness_seconds_count\\{queue="${queue}",delivery="push"\\} 2`));

    // Neither the answers nor the logs show the URL's credentials.
    const shown = await api.get(`/v1/queues/${queue}/push`);
    for (const answer of [put.body, shown.body]) {
      expect(JSON.stringify(answer)).not.toContain(PASSWORD);
      expect(JSON.stringify(answer)).not.toContain(QUERY_SECRET);
      expect(answer.url).toBe(`http://***@${base.host}/deliveries?token=***`);
    }
    expect(logText()).toContain("push delivery started");
    expect(logText()).not.toContain(PASSWORD);
    expect(logText()).not.toContain(QUERY_SECRET);
  });

  it("keeps tokens out of the logs, in a header or in the query string", async () => {
    const queryToken = "tok-in-query-31c9a0";
    const wrongToken = "wrong-token-8d2e4f";
    expect((await api.as(undefined).get(`/v1/queues?token=${queryToken}&access_token=${queryToken}`)).status).toBe(401);
    expect((await api.as(wrongToken).get("/v1/queues")).status).toBe(401);
    expect((await api.get("/v1/queues/nope!/counts")).status).toBe(400);
    await waitFor(() => lines.filter((line) => line.msg === "request refused").length >= 3, 5_000);
    const refused = lines.find((line) => line.msg === "request refused" && String(line.url).startsWith("/v1/queues?"));
    expect(refused?.url).toBe("/v1/queues?token=***&access_token=***");
    for (const secret of [queryToken, wrongToken, ADMIN]) expect(logText()).not.toContain(secret);
  });

  it("hides credentials in check URLs, in answers and in refusals", async () => {
    const name = `c${Math.random().toString(36).slice(2, 8)}`;
    const probeUrl = `https://probe:${PASSWORD}@probe.example/p?sig=${QUERY_SECRET}`;
    const defined = await api.put(`/v1/checks/${name}`, {
      probeUrl,
      callbackUrl: "https://callback.example/c",
      schedule: { every: "1h", times: 1 },
    });
    expect(defined.status).toBe(200);
    const shown = await api.get(`/v1/checks/${name}`);
    for (const answer of [defined.body, shown.body]) {
      expect(answer.probeUrl).toBe("https://***@probe.example/p?sig=***");
      expect(JSON.stringify(answer)).not.toContain(PASSWORD);
    }
    const refused = await api.put(`/v1/queues/${uniqueQueue()}/push`, {
      url: `ftp://u:${PASSWORD}@host/`,
      timeout: "5s",
      concurrency: 1,
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).not.toContain(PASSWORD);
    expect(logText()).not.toContain(PASSWORD);
  });
});

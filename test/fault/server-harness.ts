import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

/** Helpers for the server fault tests: a real server process, an HTTP client, consumers. */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** Runs `checkback serve` on a free port; resolves once it listens (or rejects with its output). */
export function startServerProcess(store: string): Promise<ServerProcess> {
  // node itself, not the tsx wrapper: SIGTERM must reach the server, not a relay in between.
  const args = [
    "--import",
    "tsx",
    "packages/server/src/cli/main.ts",
    "serve",
    "--port",
    "0",
    "--store",
    store,
    "--log-level",
    "info",
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.stderr!.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (match) resolve({ child, url: match[1]!, stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${err}${out}`)));
  });
}

export interface Answer {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
  ms: number;
}

export async function call(base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {}, ms: Date.now() - started };
}

/** Polls `check` every 100 ms until it returns true, failing after `ms`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A push receiver answering 200 and recording the payload marks it was sent. */
export async function startReceiver(): Promise<{ server: Server; url: string; received: Set<string> }> {
  const received = new Set<string>();
  const server = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    request.on("end", () => {
      const job = JSON.parse(text) as { payload: { mark: string } };
      received.add(job.payload.mark);
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

/** A pull consumer: claims with a short long-poll, completes what it got; store errors only slow it down. */
export function startPuller(base: string, queue: string): { received: Set<string>; stop: () => Promise<void> } {
  const received = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const claimed = await call(base, "POST", `/v1/queues/${queue}/claim`, { limit: 20, lease: "5s", wait: "1s" });
        if (claimed.status !== 200) throw new Error(`claim ${claimed.status}`);
        for (const job of claimed.body.jobs as { id: string; leaseToken: string; payload: { mark: string } }[]) {
          const done = await call(base, "POST", `/v1/queues/${queue}/jobs/${job.id}/complete`, {
            leaseToken: job.leaseToken,
          });
          if (done.status === 200) received.add(job.payload.mark);
        }
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  })();
  return {
    received,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

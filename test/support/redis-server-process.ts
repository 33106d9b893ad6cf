import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

/**
 * A redis-server of a test's own, on a loopback port, in a temporary directory: for tests
 * that must kill and restart Redis, or need particular settings.
 */
export class RedisServerProcess {
  readonly dir = mkdtempSync(join(tmpdir(), "checkback-redis-"));
  private child: ChildProcess | undefined;

  constructor(
    readonly port: number,
    private readonly settings: string[],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const binary = process.env.REDIS_SERVER ?? "redis-server";
    this.child = spawn(
      binary,
      ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", ...this.settings],
      { stdio: "ignore" },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await ping(this.port)) return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGKILL: no shutdown, no final save; only what already reached the AOF survives. */
  async kill(): Promise<void> {
    const child = this.child;
    // A process ended by a signal keeps exitCode null: signalCode tells it is gone too.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether a redis-server binary can be run here at all. */
export function redisServerAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.env.REDIS_SERVER ?? "redis-server", ["--version"], { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("exit", (code) => resolve(code === 0));
  });
}

async function ping(port: number): Promise<boolean> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/**
 * A PostgreSQL server of a test's own (initdb in a temporary directory, a loopback port), for
 * tests that stop and restart PostgreSQL under running workers: the shared server stays up for
 * every other test. PostgreSQL refuses to run as root, so when the tests run as root the
 * server runs as the `postgres` system user.
 */
export class PostgresServerProcess {
  readonly dir: string;
  private readonly data: string;

  constructor(readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), "checkback-pg-"));
    this.data = join(this.dir, "data");
    // The postgres user must be able to enter the directory it owns data in.
    chmodSync(this.dir, 0o777);
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Creates the cluster (first call) and starts the server; resolves once it accepts queries. */
  async start(): Promise<void> {
    if (!existsSync(this.data)) {
      this.run("initdb", ["-D", this.data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
    }
    this.run("pg_ctl", [
      "-D",
      this.data,
      "-l",
      join(this.dir, "server.log"),
      "-o",
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "-w",
      "start",
    ]);
    const deadline = Date.now() + 15_000;
    while (!(await accepts(this.url))) {
      if (Date.now() > deadline) throw new Error(`private PostgreSQL on port ${this.port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Stops the server at once (fast shutdown: clients are disconnected, nothing is lost). */
  async stop(): Promise<void> {
    if (!existsSync(join(this.data, "postmaster.pid"))) return;
    this.run("pg_ctl", ["-D", this.data, "-m", "fast", "-w", "stop"]);
  }

  /** Stops the server and removes its files. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }

  private run(tool: string, args: string[]): void {
    const binary = join(postgresBinDir(), tool);
    if (process.getuid?.() === 0) {
      execFileSync("chown", ["-R", "postgres", this.dir]);
      execFileSync("runuser", ["-u", "postgres", "--", binary, ...args], { stdio: "ignore" });
    } else {
      execFileSync(binary, args, { stdio: "ignore" });
    }
  }
}

/** Whether a private PostgreSQL server can be started here (its binaries are installed). */
export function postgresServerAvailable(): boolean {
  try {
    const dir = postgresBinDir();
    return spawnSync(join(dir, "initdb"), ["--version"]).status === 0;
  } catch {
    return false;
  }
}

function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql (set PG_BIN)");
  return join(root, versions[0]!, "bin");
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

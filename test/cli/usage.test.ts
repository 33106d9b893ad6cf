import { createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { DEFAULT_SERVER_URL } from "../../packages/server/src/cli/program.js";
import { DEFAULT_PORT } from "../../packages/server/src/http/config.js";
import { runCli } from "./run-cli.js";

/** A port that was free a moment ago: nothing listens there, so connections are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Bad command lines are refused before any request is made, so no server is needed here;
// the URL points at a closed port to prove nothing was sent (it would fail with exit 1).
describe("checkback command line, without a server", { timeout: 60_000 }, () => {
  it("--help describes every command and the global options", async () => {
    const run = await runCli(["--help"]);
    expect(run.code).toBe(0);
    for (const command of ["serve", "add", "import", "get", "ls", "cancel", "reschedule", "dead", "stats"]) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    }
    expect(run.stdout).toContain("--url <url>");
    expect(run.stdout).toContain("CHECKBACK_URL");
  });

  it("every subcommand has its own --help with examples", async () => {
    const runs = await Promise.all(
      [["add"], ["import"], ["dead", "redrive"], ["reschedule"]].map((command) => runCli([...command, "--help"])),
    );
    for (const run of runs) {
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: checkback /);
      expect(run.stdout).toContain("Examples:");
      expect(run.stdout).toContain("Global Options:");
    }
  });

  it("an unknown option is a usage error (exit 2) with a suggestion", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await runCli(["ls", "-q", "orders", "--stat", "dead"], { url });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("error: unknown option '--stat'");
    expect(run.stderr).toContain("--state");
    expect(run.stdout).toBe("");
  });

  it("an unknown command is a usage error", async () => {
    const run = await runCli(["enqueue"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'enqueue'");
  });

  it("a bad duration is a usage error that says what a duration looks like", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await runCli(["add", "-q", "orders", "{}", "--delay", "5 minutes"], { url });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("'5 minutes' is invalid");
    expect(run.stderr).toContain("30s");
  });

  it("a missing queue is a usage error", async () => {
    const run = await runCli(["add", '{"a":1}']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("required option '-q, --queue <name>' not specified");
  });

  it("an invalid queue name, a bad instant, a bad state and a bad limit are usage errors", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const runs = await Promise.all([
      runCli(["stats", "-q", "has space"], { url }),
      runCli(["reschedule", "-q", "orders", "j1", "--run-at", "next tuesday"], { url }),
      runCli(["ls", "-q", "orders", "--state", "sleeping"], { url }),
      runCli(["ls", "-q", "orders", "--limit", "0"], { url }),
    ]);
    for (const run of runs) expect(run.code).toBe(2);
    expect(runs[0]!.stderr).toContain("a queue name is");
    expect(runs[1]!.stderr).toContain("ISO date");
    expect(runs[2]!.stderr).toContain("scheduled, active, completed, dead, cancelled");
    expect(runs[3]!.stderr).toContain("whole number");
  });

  it("a payload that is not JSON, --delay with --run-at, and a job named twice are usage errors", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const runs = await Promise.all([
      runCli(["add", "-q", "orders", "hello"], { url }),
      runCli(["add", "-q", "orders", "1", "--delay", "1s", "--run-at", "0"], { url }),
      runCli(["get", "-q", "orders", "j1", "--key", "k1"], { url }),
      runCli(["get", "-q", "orders"], { url }),
      runCli(["reschedule", "-q", "orders", "j1"], { url }),
      runCli(["dead", "purge", "-q", "orders", "--all"], { url }),
      runCli(["dead", "redrive", "-q", "orders"], { url }),
    ]);
    for (const run of runs) expect(run.code, run.stderr).toBe(2);
    expect(runs[0]!.stderr).toContain("payload is not valid JSON");
    expect(runs[1]!.stderr).toContain("cannot be used with option '--run-at <instant>'");
    expect(runs[2]!.stderr).toContain("not both");
    expect(runs[3]!.stderr).toContain("give its id, or --key");
    expect(runs[4]!.stderr).toContain("--delay <duration> or --run-at <instant>");
    expect(runs[5]!.stderr).toContain("add --yes to confirm");
    expect(runs[6]!.stderr).toContain("give their ids, or --all");
  });

  it("a server that is down is a clear error with exit code 1", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await runCli(["stats", "--json"], { url });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `error: UNREACHABLE: cannot reach the checkback server at ${url} (ECONNREFUSED); ` +
        "is it running? Point at it with --url or CHECKBACK_URL\n",
    );
  });

  it("--url on the command line wins over CHECKBACK_URL", async () => {
    const [envPort, flagPort] = [await closedPort(), await closedPort()];
    const run = await runCli(["stats", "--url", `http://127.0.0.1:${flagPort}`], {
      url: `http://127.0.0.1:${envPort}`,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`127.0.0.1:${flagPort}`);
  });

  it("a server URL that is not http(s) is a usage error, from --url or from CHECKBACK_URL", async () => {
    const [flag, env] = await Promise.all([
      runCli(["stats", "--url", "localhost:8787"]),
      runCli(["stats"], { env: { CHECKBACK_URL: "127.0.0.1" } }),
    ]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("give an http:// or https:// URL");
    expect(env.code).toBe(2);
    expect(env.stderr).toContain("from env 'CHECKBACK_URL' is invalid");
  });

  it("a server that accepts but never answers fails after --timeout", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // accepts connections, never writes
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const run = await runCli(["stats", "--timeout", "300ms"], { url: `http://127.0.0.1:${port}` });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `error: UNREACHABLE: cannot reach the checkback server at http://127.0.0.1:${port} (no answer within 300ms)`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("the default URL is the server's default address", () => {
    expect(DEFAULT_SERVER_URL).toBe(`http://127.0.0.1:${DEFAULT_PORT}`);
  });

  it("import refuses a file with bad lines before sending anything, naming each line", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const input = [
      '{"payload":{"n":1}}',
      "",
      '{"payload":{"n":2},"dealy":"5s"}',
      "not json",
      '{"payload":{"n":3},"delay":"soon"}',
      '{"delay":"1s"}',
    ].join("\n");
    const run = await runCli(["import", "-", "-q", "orders"], { url, input });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("error: INVALID_INPUT: 4 bad lines in stdin; nothing was imported");
    expect(run.stderr).toContain('line 3: unknown field "dealy"');
    expect(run.stderr).toContain("line 4: not valid JSON");
    expect(run.stderr).toContain('line 5: delay "soon" must look like');
    expect(run.stderr).toContain('line 6: missing "payload"');
    // Refused before any request: a request would have failed with UNREACHABLE.
    expect(run.stderr).not.toContain("UNREACHABLE");
  });

  it("import names a file it cannot read", async () => {
    const run = await runCli(["import", "/nonexistent/jobs.ndjson", "-q", "orders"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: CANNOT_READ: cannot read \/nonexistent\/jobs\.ndjson: ENOENT/);
  });
});

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, isAbsolute, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseEnvironmentFile, parseTimeSpan, parseUnitFile, setting, splitCommandLine } from "./systemd-files.js";

/**
 * deploy/checkback.service, run as systemd would run it — without systemd, which does not run
 * here. The unit is parsed; its ExecStart is run with the installed binary's path replaced by
 * the repository's bin/checkback, %S (the state directory root) by a temporary directory in
 * which the StateDirectory is created, and the EnvironmentFile (the example deploy/checkback.env)
 * as the whole environment beside what systemd itself sets. Then the probes, and the unit's
 * KillSignal, after which the server must be gone, cleanly, within the unit's TimeoutStopSec.
 * Not covered: User=, the hardening options, Restart= (systemd's own work).
 */
const REPO = join(import.meta.dirname, "../..");
const UNIT_PATH = join(REPO, "deploy/checkback.service");
const ENV_EXAMPLE = join(REPO, "deploy/checkback.env");
const BIN = join(REPO, "bin/checkback");

const stateRoot = mkdtempSync(join(tmpdir(), "checkback-systemd-"));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(stateRoot, { recursive: true, force: true });
});

describe("deploy/checkback.service", () => {
  const unit = parseUnitFile(UNIT_PATH);
  const service = (key: string) => setting(unit, "Service", key);

  it("declares what the deployment docs promise", () => {
    expect(service("User")).toBeDefined();
    expect(service("User")).not.toBe("root");
    expect(service("Restart")).toBe("on-failure");
    expect(service("StateDirectory")).toBe("checkback");
    expect(service("EnvironmentFile")).toBe("/etc/checkback/checkback.env");
    expect(service("KillSignal")).toBe("SIGTERM");
    expect(service("NoNewPrivileges")).toBe("yes");
    expect(service("ProtectSystem")).toBe("strict");
    // V8 writes its compiled code: this option would stop node at start.
    expect(service("MemoryDenyWriteExecute")).toBeUndefined();
    expect(setting(unit, "Install", "WantedBy")).toBe("multi-user.target");
    const argv = splitCommandLine(service("ExecStart")!, { S: "/var/lib" });
    expect(isAbsolute(argv[0]!)).toBe(true);
    expect(basename(argv[0]!)).toBe("checkback");
    expect(argv.slice(1)).toEqual(["serve", "--store", "sqlite:/var/lib/checkback/checkback.db"]);
  });

  it("runs its ExecStart: probes answer, and KillSignal stops it cleanly within TimeoutStopSec", async () => {
    const stateDirectory = join(stateRoot, service("StateDirectory")!);
    mkdirSync(stateDirectory, { recursive: true }); // systemd creates it before ExecStart
    const specifiers = { S: stateRoot };
    const [, ...args] = splitCommandLine(service("ExecStart")!, specifiers);
    const cwd = splitCommandLine(service("WorkingDirectory")!, specifiers)[0]!;
    expect(cwd).toBe(stateDirectory);

    // systemd starts services with a clean environment: PATH, HOME, STATE_DIRECTORY and the
    // EnvironmentFile. The port is the one change: 8787 may be taken on a shared machine.
    const fromFile = parseEnvironmentFile(ENV_EXAMPLE);
    expect(fromFile.CHECKBACK_PORT).toBe("8787");
    const env = {
      PATH: process.env.PATH!,
      HOME: stateDirectory,
      STATE_DIRECTORY: stateDirectory,
      ...fromFile,
      CHECKBACK_PORT: "0",
    };
    const child = spawn(BIN, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let stderr = "";
    let stdout = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
    );
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
        const match = /checkback listening on (\S+) \(store: sqlite\)/.exec(stderr);
        if (match) resolve(match[1]!);
      });
      void exited.then(({ code }) => reject(new Error(`exited with ${code} before listening:\n${stderr}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/); // CHECKBACK_HOST from the file

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", store: "sqlite" });
    // The store lives in the state directory, as the docs say.
    const added = await fetch(`${url}/v1/queues/orders/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ payload: { order: 1 }, delay: "1h" }),
    });
    expect(added.status).toBe(201);
    expect(existsSync(join(stateDirectory, "checkback.db"))).toBe(true);

    // A consumer long-polling when the signal comes: the shutdown must not wait out its 20 s.
    const claim = fetch(`${url}/v1/queues/orders/claim`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ wait: "20s" }),
    }).then(async (response) => ({ status: response.status, body: await response.json() }));
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the claim reach its wait

    const timeoutStopMs = parseTimeSpan(service("TimeoutStopSec")!);
    const signalledAt = Date.now();
    child.kill(service("KillSignal") as NodeJS.Signals);
    const exit = await Promise.race([
      exited,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), timeoutStopMs)),
    ]);
    expect(exit, `still running ${timeoutStopMs} ms after ${service("KillSignal")}:\n${stderr}`).not.toBeNull();
    expect(exit!.at - signalledAt).toBeLessThan(timeoutStopMs);
    expect({ code: exit!.code, signal: exit!.signal }, stderr).toEqual({ code: 0, signal: null });
    expect(stderr).toMatch(/SIGTERM: shutting down/);
    expect(await claim).toEqual({ status: 200, body: { jobs: [] } });
    // A clean close checkpoints the WAL back into the file and removes it.
    expect(existsSync(join(stateDirectory, "checkback.db-wal"))).toBe(false);
    expect(stdout).toMatch(/checkback server listening/);
  });
});

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, loadServerConfig, resolveServerConfig } from "../../packages/server/src/http/config.js";

function dirWithConfig(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "checkback-config-"));
  writeFileSync(join(dir, "checkback.config.json"), JSON.stringify(content));
  return dir;
}

describe("server config", () => {
  it("defaults: embedded SQLite on 127.0.0.1:8787, no tokens", () => {
    const config = loadServerConfig({ env: {}, cwd: mkdtempSync(join(tmpdir(), "checkback-empty-")) });
    expect(config).toEqual(DEFAULT_CONFIG);
    expect(config.store).toMatch(/^sqlite:/);
  });

  it("file < environment < flags", () => {
    const cwd = dirWithConfig({ port: 7001, host: "0.0.0.0", logLevel: "debug", maxWait: "10s" });
    const config = loadServerConfig({
      cwd,
      env: { CHECKBACK_PORT: "7002", CHECKBACK_STORE: "memory:", CHECKBACK_TOKENS: "env-token-1:admin" },
      flags: { port: 7003, tokens: "flag-token-1:produce;flag-token-2:consume,produce" },
    });
    expect(config).toMatchObject({
      port: 7003,
      host: "0.0.0.0",
      store: "memory:",
      logLevel: "debug",
      maxWaitMs: 10_000,
    });
    expect(config.tokens).toEqual([
      { token: "flag-token-1", scopes: ["produce"] },
      { token: "flag-token-2", scopes: ["consume", "produce"] },
    ]);
  });

  it("an explicit config file path, sizes and queue lists", () => {
    const dir = dirWithConfig({ bodyLimit: "2mb", maxPayloadBytes: "64kb", queues: ["a", "b"] });
    const config = loadServerConfig({ env: {}, flags: { config: join(dir, "checkback.config.json") } });
    expect(config).toMatchObject({ bodyLimit: 2 * 1024 * 1024, maxPayloadBytes: 64 * 1024, queues: ["a", "b"] });
    expect(loadServerConfig({ env: { CHECKBACK_QUEUES: "x, y" }, cwd: dir }).queues).toEqual(["x", "y"]);
  });

  it("refuses bad values with a clear message", () => {
    expect(() => resolveServerConfig({ port: 70_000 })).toThrow(/port/);
    expect(() => resolveServerConfig({ maxWait: "1m" })).toThrow(/at most 30s/);
    expect(() => resolveServerConfig({ maxWait: "soon" })).toThrow(/maxWait/);
    expect(() => resolveServerConfig({ bodyLimit: "lots" })).toThrow(/bodyLimit/);
    expect(() => resolveServerConfig({ bodyLimit: "1kb", maxPayloadBytes: "2kb" })).toThrow(/must not exceed/);
    expect(() => resolveServerConfig({ logLevel: "loud" })).toThrow(/logLevel/);
    expect(() => resolveServerConfig({ queues: ["bad name"] })).toThrow(/queue name/);
    expect(() => resolveServerConfig({ prot: 1 } as never)).toThrow(/unknown server config option/);
    expect(() => loadServerConfig({ env: {}, flags: { porrt: 1 } as never })).toThrow(/porrt/);
    expect(() => loadServerConfig({ env: { CHECKBACK_CONFIG: "/nonexistent/checkback.json" } })).toThrow(/cannot read/);
  });
});

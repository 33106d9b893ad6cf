import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The packages say `engines.node >=20`: every package they install must run there too. This
 * walks package-lock.json from the three published workspaces through their production
 * dependencies (as Node resolves them: nested node_modules first, then up) and lists every
 * package whose own `engines.node` does not accept the running Node.
 */
const ROOT = join(import.meta.dirname, "../..");
const PUBLISHED = ["packages/checkback", "packages/server", "packages/client"];

/**
 * Known exceptions: transitive dependencies of fastify that declare `node >=22` yet run on
 * Node 20, where the server tests exercise them. A new entry needs the same check (does the
 * code we reach run on Node 20, and is it tested there) and its reason written beside it.
 */
const ALLOWED: Record<string, string> = {
  // via @fastify/static (under @fastify/swagger-ui): Content-Disposition headers for /docs assets.
  "content-disposition@3": "fastify dependency; runs on Node 20 (the /docs page is served in the server tests)",
  // via light-my-request (fastify's inject): cookie parsing for injected requests.
  "cookie@2": "fastify dependency; runs on Node 20 (fastify inject is exercised in the server tests)",
};

// semver is a production dependency of fastify, so it is installed wherever the server is.
const semver = createRequire(import.meta.url)("semver") as {
  satisfies(version: string, range: string, options?: { includePrerelease?: boolean }): boolean;
  major(version: string): number;
};

interface LockEntry {
  version?: string;
  link?: boolean;
  resolved?: string;
  dev?: boolean;
  engines?: { node?: string } | string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, LockEntry>;
};

/** Where Node finds `name` required from the package at `from`: its node_modules, then its parents'. */
function resolveFrom(from: string, name: string): string | null {
  let dir = from;
  for (;;) {
    const candidate = dir === "" ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    const entry = lock.packages[candidate];
    if (entry) return entry.link && entry.resolved ? entry.resolved : candidate;
    if (dir === "") return null;
    // Up one package: "a/node_modules/b/node_modules/c" → "a/node_modules/b" → "a" → "".
    const at = dir.lastIndexOf("/node_modules/");
    dir = at >= 0 ? dir.slice(0, at) : dir.startsWith("node_modules/") || !dir.includes("/") ? "" : posix.dirname(dir);
    if (dir === ".") dir = "";
  }
}

function productionClosure(): Set<string> {
  const seen = new Set<string>();
  const todo = [...PUBLISHED];
  while (todo.length > 0) {
    const path = todo.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const entry = lock.packages[path];
    if (!entry) throw new Error(`package-lock.json has no entry for ${path}`);
    const optionalPeers = new Set(
      Object.entries(entry.peerDependenciesMeta ?? {})
        .filter(([, meta]) => meta.optional)
        .map(([name]) => name),
    );
    const wanted = [
      ...Object.keys(entry.dependencies ?? {}).map((name) => ({ name, optional: false })),
      ...Object.keys(entry.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
      ...Object.keys(entry.peerDependencies ?? {}).map((name) => ({ name, optional: optionalPeers.has(name) })),
    ];
    for (const { name, optional } of wanted) {
      const found = resolveFrom(path, name);
      if (found === null) {
        if (optional) continue;
        throw new Error(`${path} needs ${name}, which package-lock.json does not install`);
      }
      todo.push(found);
    }
  }
  return seen;
}

const nameOf = (path: string) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);

describe("engines", () => {
  const closure = productionClosure();

  it("walks the whole production closure of the published packages", () => {
    // The server alone brings fastify, pg, ioredis and better-sqlite3 with their own trees.
    for (const name of ["fastify", "better-sqlite3", "pg", "ioredis", "commander", "semver"]) {
      expect([...closure].some((path) => nameOf(path) === name)).toBe(true);
    }
    expect([...closure].some((path) => lock.packages[path]?.dev === true)).toBe(false);
  });

  it("every production dependency accepts the running Node, beyond the allow-list", () => {
    const refusing: string[] = [];
    for (const path of closure) {
      const entry = lock.packages[path]!;
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (range === undefined || semver.satisfies(process.versions.node, range, { includePrerelease: true })) continue;
      const name = path.startsWith("packages/") ? path : nameOf(path);
      const id = `${name}@${entry.version === undefined ? "?" : semver.major(entry.version)}`;
      if (!(id in ALLOWED)) refusing.push(`${name}@${entry.version} (${path}) wants node ${range}`);
    }
    expect(refusing).toEqual([]);
  });

  it("the allow-list holds only packages that are still installed", () => {
    const installed = new Set(
      [...closure].map((path) => `${nameOf(path)}@${semver.major(lock.packages[path]?.version ?? "0.0.0")}`),
    );
    for (const id of Object.keys(ALLOWED)) expect(installed, `${id} is no longer installed`).toContain(id);
  });
});

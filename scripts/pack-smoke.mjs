#!/usr/bin/env node
// Pack smoke test: what a user installs is what we test. Builds and packs the three published
// packages, installs the tarballs into fresh apps outside the repository, and checks there:
//   - the library: its footprint (what better-sqlite3 brings plus at most 5 more packages, no
//     HTTP framework, no Redis or PostgreSQL driver), the README quickstart in plain JavaScript,
//     that importing it with the memory store loads no driver, and a strict TypeScript consumer
//     with skipLibCheck off;
//   - the client: no dependencies at all;
//   - the server: `checkback --help` and one `checkback serve` round trip from the installed binary.
// Run: node scripts/pack-smoke.mjs  (about two minutes: better-sqlite3 compiles from source).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// In the repository the packages resolve to their sources (the checkback-source condition that
// .npmrc sets); the apps here must see what a user gets, the packed dist.
const childEnv = {
  ...process.env,
  NODE_OPTIONS: (process.env.NODE_OPTIONS ?? "").replace(/--conditions=checkback-source/g, "").trim(),
};
const work = mkdtempSync(join(tmpdir(), "checkback-pack-"));
const keep = process.argv.includes("--keep");
const MAX_EXTRA_PACKAGES = 5;
const FORBIDDEN_IN_LIBRARY = ["fastify", "ioredis", "pg", "@fastify/swagger", "commander", "prom-client", "alipay-sdk"];

let step = 0;
function say(text) {
  step += 1;
  console.log(`[pack-smoke ${step}] ${text}`);
}
function run(command, args, options = {}) {
  return execFileSync(command, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: childEnv,
    ...options,
  });
}
function fail(message) {
  console.error(`[pack-smoke] FAILED: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}
function app(name, dependencies) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }, null, 2));
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...dependencies], { cwd: dir });
  return dir;
}
/** Every package installed under an app's node_modules (scoped ones included), by name. */
function installed(dir) {
  const names = new Map();
  const walk = (modules) => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith(".")) continue;
      if (entry.startsWith("@")) {
        for (const sub of readdirSync(join(modules, entry))) visit(join(modules, entry, sub));
      } else visit(join(modules, entry));
    }
  };
  const visit = (pkgDir) => {
    const manifest = join(pkgDir, "package.json");
    if (!existsSync(manifest)) return;
    const pkg = JSON.parse(readFileSync(manifest, "utf8"));
    names.set(pkg.name, pkg);
    walk(join(pkgDir, "node_modules"));
  };
  walk(join(dir, "node_modules"));
  return names;
}
/** The names a package pulls in, itself included, following dependencies and optional ones. */
function closure(packages, root) {
  const seen = new Set();
  const stack = [root];
  while (stack.length > 0) {
    const name = stack.pop();
    if (seen.has(name) || !packages.has(name)) continue;
    seen.add(name);
    const pkg = packages.get(name);
    stack.push(...Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }));
  }
  return seen;
}
function freePort() {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

try {
  say("build the packages");
  run("npm", ["run", "build"], { cwd: repo });

  say("pack them");
  const packed = JSON.parse(
    run(
      "npm",
      [
        "pack",
        "--json",
        "--pack-destination",
        work,
        "-w",
        "checkback",
        "-w",
        "@checkback/client",
        "-w",
        "@checkback/server",
      ],
      {
        cwd: repo,
      },
    ),
  );
  const tarball = (name) => join(work, packed.find((p) => p.name === name).filename);
  for (const pack of packed) {
    const files = pack.files.map((f) => f.path);
    if (!files.includes("LICENSE")) fail(`${pack.name} ships no LICENSE`);
    const maps = files.filter((f) => f.endsWith(".map"));
    if (maps.length > 0) fail(`${pack.name} ships ${maps.length} source maps without their sources`);
    console.log(`  ${pack.filename}: ${pack.entryCount} files, ${(pack.size / 1024).toFixed(0)} kB packed`);
  }

  say("install the library alone into an empty app");
  const libApp = app("library-app", [tarball("checkback")]);
  const libPackages = installed(libApp);
  const sqlite = closure(libPackages, "better-sqlite3");
  const extra = [...libPackages.keys()].filter((name) => !sqlite.has(name));
  console.log(`  ${libPackages.size} packages: better-sqlite3 brings ${sqlite.size}, the rest are ${extra.join(", ")}`);
  if (extra.length > MAX_EXTRA_PACKAGES + 1) {
    fail(`the library pulls ${extra.length - 1} packages beyond better-sqlite3's (at most ${MAX_EXTRA_PACKAGES})`);
  }
  const forbidden = FORBIDDEN_IN_LIBRARY.filter((name) => libPackages.has(name));
  if (forbidden.length > 0) fail(`the library pulls ${forbidden.join(", ")}`);

  say("run the quickstart in plain JavaScript");
  const quickstart = readFileSync(join(repo, "examples", "quickstart.ts"), "utf8")
    .replace(/^\/\/.*\n/gm, "")
    .replace(/<\{ orderId: string \}>/g, "");
  writeFileSync(join(libApp, "quickstart.mjs"), quickstart);
  const out = run(process.execPath, ["quickstart.mjs"], { cwd: libApp, timeout: 30_000 });
  if (!/order A-1001 is CLOSED/.test(out)) fail(`the quickstart printed: ${out}`);
  console.log(`  ${out.trim()}`);

  say("import the library with the memory store: no driver loads");
  writeFileSync(
    join(libApp, "no-drivers.mjs"),
    `import { createRequire } from "node:module";
import { createCheckback } from "checkback";
const cb = createCheckback({ store: "memory:" });
await cb.queue("q").add({ n: 1 });
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /node_modules[\\\\/](better-sqlite3|ioredis|pg)[\\\\/]/.test(p));
await cb.close();
console.log(JSON.stringify(loaded));
`,
  );
  const loaded = JSON.parse(run(process.execPath, ["no-drivers.mjs"], { cwd: libApp }));
  if (loaded.length > 0) fail(`importing the library loaded ${loaded.join(", ")}`);

  say("opening a Redis store without ioredis names the package to install");
  writeFileSync(
    join(libApp, "missing-driver.mjs"),
    `import { openStore } from "checkback";
try { openStore("redis://127.0.0.1:1"); console.log("opened"); } catch (error) { console.log(error.code + ": " + error.message); }
`,
  );
  const missing = run(process.execPath, ["missing-driver.mjs"], { cwd: libApp }).trim();
  if (!/npm install ioredis/.test(missing)) fail(`a Redis URL without ioredis said: ${missing}`);
  console.log(`  ${missing}`);

  say("type-check a strict TypeScript consumer (skipLibCheck off)");
  writeFileSync(
    join(libApp, "consumer.ts"),
    `import { createCheckback, later, type Job, type Store } from "checkback";
const cb = createCheckback({ store: "memory:" });
const store: Store = cb.store;
const worker = cb.worker<{ orderId: string }>("orders", async (job) => {
  const id: string = job.payload.orderId;
  if (id === "later") return later("1m");
  return { closed: id };
});
worker.on("error", (error: Error) => console.error(error.message));
const added: Job<{ orderId: string }> = await cb.queue<{ orderId: string }>("orders").add({ orderId: "A-1" }, { delay: "30m" });
console.log(added.id, store !== undefined);
await cb.close();
`,
  );
  const typesDir = join(repo, "node_modules", "@types");
  writeFileSync(
    join(libApp, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ["node"],
        typeRoots: [typesDir],
      },
      files: ["consumer.ts"],
    }),
  );
  const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
  try {
    run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: libApp });
  } catch (error) {
    fail(`the consumer does not type-check:\n${error.stdout}${error.stderr}`);
  }

  say("install the client alone: no dependencies");
  const clientApp = app("client-app", [tarball("@checkback/client")]);
  const clientPackages = installed(clientApp);
  if (clientPackages.size !== 1) fail(`the client pulls ${[...clientPackages.keys()].join(", ")}`);

  say("install the server and run the installed binary");
  const serverApp = app("server-app", [
    tarball("checkback"),
    tarball("@checkback/client"),
    tarball("@checkback/server"),
  ]);
  const bin = join(serverApp, "node_modules", ".bin", "checkback");
  const help = run(bin, ["--help"], { cwd: serverApp });
  if (!/serve/.test(help)) fail(`checkback --help printed: ${help}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawn(bin, ["serve", "--port", String(port), "--store", "memory:"], {
    cwd: serverApp,
    stdio: "pipe",
    env: childEnv,
  });
  let serverLog = "";
  server.stdout.on("data", (chunk) => (serverLog += chunk));
  server.stderr.on("data", (chunk) => (serverLog += chunk));
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline || server.exitCode !== null)
        fail(`checkback serve did not become ready:\n${serverLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const env = { ...childEnv, CHECKBACK_URL: url };
    const added = JSON.parse(
      run(bin, ["add", "-q", "smoke", '{"hello":"world"}', "--delay", "1h", "--key", "k-1", "--json"], {
        cwd: serverApp,
        env,
      }),
    );
    const got = JSON.parse(run(bin, ["get", "-q", "smoke", "--key", "k-1", "--json"], { cwd: serverApp, env }));
    if (got.id !== added.id || got.payload.hello !== "world") fail(`round trip gave ${JSON.stringify(got)}`);
    console.log(`  added and read back job ${got.id} through ${url}`);
    // The dashboard ships built in the package: its page and every asset it names answer.
    const page = await fetch(`${url}/ui/`);
    const html = await page.text();
    if (!page.ok || !/<div id="app">/.test(html)) fail(`/ui answered ${page.status}: ${html.slice(0, 200)}`);
    const assets = [...html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]);
    if (assets.length === 0) fail(`/ui names no assets: ${html.slice(0, 400)}`);
    for (const asset of assets) {
      const answer = await fetch(`${url}${asset}`);
      if (!answer.ok) fail(`${asset} answered ${answer.status}`);
    }
    console.log(`  /ui answers with its ${assets.length} assets`);
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => (server.exitCode !== null ? r() : server.once("exit", r)));
  }
  console.log("[pack-smoke] all checks passed");
} catch (error) {
  if (process.exitCode !== 1) {
    console.error(`[pack-smoke] FAILED: ${error.stack ?? error}`);
    process.exitCode = 1;
  }
} finally {
  if (keep) console.log(`[pack-smoke] kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

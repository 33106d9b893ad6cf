import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from "fastify";
import { HttpError } from "../errors.js";

/**
 * The dashboard's static files, built by Vite from packages/server/ui into dist/ui and shipped
 * in the package: no CDN, it works offline. The package root is two folders up from this module
 * both in the sources (src/http/dashboard → ../../..) and in the build (dist/http/dashboard).
 */
const PACKAGE_ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "..");
export const UI_SOURCE_DIR = join(PACKAGE_ROOT, "ui");
export const UI_BUILD_DIR = join(PACKAGE_ROOT, "dist", "ui");
/** Written last by a build: its time says when the build happened. */
export const UI_STAMP = ".built";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

/** Running from the TypeScript sources (a checkout), not from a built package. */
const FROM_SOURCES = import.meta.url.endsWith(".ts");

/**
 * Serves /ui. In a checkout the build is made on the first request when dist/ui is missing or
 * older than a file under ui/ (so `npm start` and the tests need no build step); a package
 * always ships a built one.
 */
export function uiRoutes(app: FastifyInstance): void {
  let files: Promise<Map<string, Buffer>> | null = null;
  const load = () => {
    files ??= prepare(app.log).catch((error: unknown) => {
      files = null;
      throw error;
    });
    return files;
  };
  const send = async (path: string, reply: FastifyReply) => {
    const all = await load();
    const file = all.get(path) ?? all.get("index.html");
    if (!file) throw new HttpError(404, "NOT_FOUND", "the dashboard is not built (npm run build)");
    const type = TYPES[extname(all.has(path) ? path : "index.html")] ?? "application/octet-stream";
    // Built assets carry a content hash in their names: cache them; the page itself is re-read.
    const cache = path.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache";
    return reply.type(type).header("cache-control", cache).send(file);
  };
  app.get("/ui", { schema: { hide: true } }, (_request, reply) => reply.redirect("/ui/"));
  app.get("/ui/", { schema: { hide: true } }, (_request, reply) => send("index.html", reply));
  app.get<{ Params: { "*": string } }>("/ui/*", { schema: { hide: true } }, (request, reply) =>
    send(request.params["*"], reply),
  );
}

async function prepare(log: FastifyBaseLogger): Promise<Map<string, Buffer>> {
  if (FROM_SOURCES && uiIsStale()) {
    log.info({ from: UI_SOURCE_DIR }, "building the dashboard (a source checkout)");
    // A plain script outside src: the build step of `npm run build` too, and never type-checked
    // against Vite's types in the package build. Vite is a development dependency of the checkout.
    const script = pathToFileURL(join(PACKAGE_ROOT, "scripts", "build-ui.mjs")).href;
    const { buildUi } = (await import(script)) as { buildUi: () => Promise<void> };
    await buildUi();
  }
  const files = new Map<string, Buffer>();
  if (!existsSync(UI_BUILD_DIR)) return files;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name !== UI_STAMP)
        files.set(relative(UI_BUILD_DIR, path).split(sep).join("/"), readFileSync(path));
    }
  };
  walk(UI_BUILD_DIR);
  return files;
}

/** dist/ui is missing, or a file under ui/ is newer than its build. */
export function uiIsStale(): boolean {
  const stamp = join(UI_BUILD_DIR, UI_STAMP);
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
        entry.isDirectory() ? newest(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs,
      ),
    );
  return existsSync(UI_SOURCE_DIR) && newest(UI_SOURCE_DIR) > built;
}

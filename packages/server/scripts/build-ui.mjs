#!/usr/bin/env node
// Builds the dashboard (ui/, Preact + uPlot) with Vite into dist/ui, the static files the
// server serves at /ui. Run by `npm run build`; a server running from the sources runs it on the
// first /ui request when dist/ui is missing or stale. Builds into a fresh folder and renames it
// into place, so processes building at once (parallel tests) never serve a half-written build.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(packageRoot, "ui");
const target = join(packageRoot, "dist", "ui");

export async function buildUi() {
  const { build } = await import("vite");
  const distDir = join(packageRoot, "dist");
  mkdirSync(distDir, { recursive: true });
  const scratch = mkdtempSync(join(packageRoot, ".ui-build-"));
  try {
    await build({
      root: source,
      base: "/ui/",
      configFile: false,
      logLevel: "warn",
      // Preact's JSX, without a plugin: the transform's automatic runtime pointed at preact.
      oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
      resolve: { alias: { react: "preact/compat" } },
      build: { outDir: scratch, emptyOutDir: true, sourcemap: false, assetsInlineLimit: 0 },
    });
    writeFileSync(join(scratch, ".built"), new Date().toISOString());
    // mkdtemp makes the folder private; the build is served and shipped like any other file.
    chmodSync(scratch, 0o755);
    rmSync(target, { recursive: true, force: true });
    try {
      renameSync(scratch, target);
    } catch (error) {
      // Another process put its build in place first: it is as fresh as ours.
      if (!existsSync(join(target, ".built"))) throw error;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await buildUi();
  console.log(`dashboard built into ${target}`);
}

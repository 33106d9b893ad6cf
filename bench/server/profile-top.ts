/**
 * Reads a V8 CPU profile (`node --cpu-prof`, e.g. `pull-batch.ts --profile DIR`) and prints the
 * functions taking the most time in a window of it: self time (the function itself) and total
 * time (the function and what it called), as shares of the samples in the window.
 *
 *   npx tsx bench/server/profile-top.ts FILE.cpuprofile [--last 5 | --from S --to S] [--top 30]
 *       [--match TEXT]
 *
 * `--last S`: only the last S seconds of the profile (the steady part of a run, after start-up
 * and prefill); `--from S --to S`: seconds from the profile's start instead (one phase of a
 * longer run); `--match TEXT`: total time only of functions whose name or file contains TEXT.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    last: { type: "string", default: "5" },
    from: { type: "string" },
    to: { type: "string" },
    top: { type: "string", default: "30" },
    match: { type: "string" },
  },
});
const file = positionals[0];
if (!file) throw new Error("usage: profile-top.ts FILE.cpuprofile [--last 5] [--top 30] [--match TEXT]");

const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const label = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${basename(url)}:${lineNumber + 1}` : "";
  return `${functionName || "(anonymous)"} ${where}`.trim();
};

// Sample instants: timeDeltas are the gaps (µs) before each sample.
const at: number[] = [];
let clock = 0;
for (const delta of profile.timeDeltas) {
  clock += delta;
  at.push(clock);
}
const from = values.from !== undefined ? Number(values.from) * 1e6 : clock - Number(values.last) * 1e6;
const to = values.to !== undefined ? Number(values.to) * 1e6 : clock;

const self = new Map<string, number>();
const total = new Map<string, number>();
let counted = 0;
for (let i = 0; i < profile.samples.length; i++) {
  if (at[i]! < from || at[i]! > to) continue;
  counted++;
  const leaf = byId.get(profile.samples[i]!)!;
  self.set(label(leaf), (self.get(label(leaf)) ?? 0) + 1);
  const seen = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const name = label(byId.get(id)!);
    if (seen.has(name)) continue;
    seen.add(name);
    total.set(name, (total.get(name) ?? 0) + 1);
  }
}

const top = Number(values.top);
const share = (n: number) => `${((100 * n) / counted).toFixed(1)} %`;
const rows = (map: Map<string, number>, keep: (name: string) => boolean = () => true) =>
  [...map]
    .filter(([name]) => keep(name))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, n]) => ({ share: share(n), function: name }));

console.log(
  `# ${counted} samples from ${(from / 1e6).toFixed(1)} s to ${(to / 1e6).toFixed(1)} s of ${(clock / 1e6).toFixed(1)} s`,
);
console.log("## self");
console.table(rows(self));
console.log("## total");
console.table(rows(total, values.match ? (name) => name.includes(values.match!) : undefined));

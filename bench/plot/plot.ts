import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { chromium } from "playwright-core";

/**
 * Charts for the benchmark docs: an HTML page with uPlot (read from node_modules and inlined,
 * so the page needs no network) rendered in the system's headless Chromium and saved as a PNG.
 * Any benchmark can describe its charts as data and call `renderPng`.
 */

export interface LineSeries {
  label: string;
  /** x and y of the same length; x ascending. */
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Draw as a staircase (a CDF, a histogram): each y holds until the next x. */
  stepped?: boolean;
  color?: string;
}

export interface LineChart {
  kind: "lines";
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Logarithmic x axis (base 10); values ≤ 0 are left out. */
  xLog?: boolean;
  yLog?: boolean;
  /** Start the y axis at zero (rates, sizes), rather than at the lowest value. */
  yFromZero?: boolean;
}

/** Grouped bars: one group per category, one bar per series in it. */
export interface BarChart {
  kind: "bars";
  title: string;
  yLabel: string;
  categories: string[];
  series: { label: string; values: (number | null)[]; color?: string }[];
  yLog?: boolean;
}

export type Chart = LineChart | BarChart;

export interface Figure {
  title?: string;
  /** A line under the title: what was measured, where. */
  subtitle?: string;
  charts: Chart[];
  /** Charts side by side in a row (default 2). */
  columns?: number;
  chartWidth?: number;
  chartHeight?: number;
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/** Writes the figure as a PNG at `outPath`; Chromium at CHROMIUM_PATH or /usr/bin/chromium. */
export async function renderPng(figure: Figure, outPath: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    // Running as root in a container needs this; the page is our own, with no network.
    args: ["--no-sandbox"],
  });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 2 });
    page.on("pageerror", (error) => {
      throw error;
    });
    await page.setContent(figureHtml(figure));
    await page.waitForFunction("window.__plotted === true", undefined, { timeout: 10_000 });
    await mkdir(dirname(outPath), { recursive: true });
    await page.locator("#figure").screenshot({ path: outPath });
  } finally {
    await browser.close();
  }
}

/** The self-contained page (also handy to open in a browser while designing a chart). */
export function figureHtml(figure: Figure): string {
  const require = createRequire(import.meta.url);
  const uplotJs = readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8");
  const uplotCss = readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8");
  const columns = figure.columns ?? 2;
  const width = figure.chartWidth ?? 560;
  const height = figure.chartHeight ?? 340;
  const specs = figure.charts.map(toSpec);
  return `<!doctype html>
<html><head><meta charset="utf-8"><style>${uplotCss}
body { margin: 0; font: 13px system-ui, sans-serif; background: #fff; }
#figure { display: inline-block; padding: 12px 16px; }
h1 { font-size: 16px; margin: 0 0 2px; } p.sub { margin: 0 0 8px; color: #555; }
.grid { display: grid; grid-template-columns: repeat(${columns}, ${width}px); gap: 12px 20px; }
.u-title { font-size: 14px; }
</style></head><body><div id="figure">
${figure.title ? `<h1>${escapeHtml(figure.title)}</h1>` : ""}
${figure.subtitle ? `<p class="sub">${escapeHtml(figure.subtitle)}</p>` : ""}
<div class="grid">${specs.map((_, i) => `<div id="chart${i}"></div>`).join("")}</div></div>
<script>${uplotJs}</script>
<script>
const specs = ${JSON.stringify(specs)};
const size = { width: ${width}, height: ${height} };
${BROWSER_SIDE}
</script></body></html>`;
}

interface Spec {
  kind: "lines" | "bars";
  title: string;
  xLabel: string;
  yLabel: string;
  xLog: boolean;
  yLog: boolean;
  yFromZero: boolean;
  categories: string[] | null;
  series: { label: string; color: string; stepped: boolean }[];
  /** uPlot's aligned data: [x, y1, y2, …], nulls where a series has no point. */
  data: (number | null)[][];
}

function toSpec(chart: Chart): Spec {
  const color = (i: number, given?: string) => given ?? PALETTE[i % PALETTE.length]!;
  if (chart.kind === "bars") {
    return {
      kind: "bars",
      title: chart.title,
      xLabel: "",
      yLabel: chart.yLabel,
      xLog: false,
      yLog: chart.yLog ?? false,
      yFromZero: !(chart.yLog ?? false),
      categories: chart.categories,
      series: chart.series.map((s, i) => ({ label: s.label, color: color(i, s.color), stepped: false })),
      data: [chart.categories.map((_, i) => i), ...chart.series.map((s) => s.values.map((v) => v ?? null))],
    };
  }
  return {
    kind: "lines",
    title: chart.title,
    xLabel: chart.xLabel,
    yLabel: chart.yLabel,
    xLog: chart.xLog ?? false,
    yLog: chart.yLog ?? false,
    yFromZero: chart.yFromZero ?? false,
    categories: null,
    series: chart.series.map((s, i) => ({ label: s.label, color: color(i, s.color), stepped: s.stepped ?? false })),
    data: alignSeries(chart.series, chart.xLog ?? false),
  };
}

/** One shared x axis (the union of every series' x), each series null where it has no point. */
function alignSeries(series: LineSeries[], xLog: boolean): (number | null)[][] {
  const xs = [...new Set(series.flatMap((s) => Array.from(s.x)))].filter((x) => !xLog || x > 0).sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const columns = series.map((s) => {
    const column: (number | null)[] = new Array(xs.length).fill(null);
    for (let i = 0; i < s.x.length; i++) {
      const slot = at.get(s.x[i]!);
      if (slot !== undefined) column[slot] = s.y[i]!;
    }
    return column;
  });
  return [xs, ...columns];
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Runs in the page: one uPlot per spec, then flags the page as drawn. */
const BROWSER_SIDE = `
const shortNumber = (v) => v == null ? "" : Math.abs(v) >= 1e6 ? (v / 1e6) + "M" : Math.abs(v) >= 1e3 ? (v / 1e3) + "k" : String(+v.toPrecision(3));
specs.forEach((spec, i) => {
  const bars = spec.kind === "bars";
  const n = spec.series.length;
  const series = [{}].concat(spec.series.map((s, k) => ({
    label: s.label,
    stroke: s.color,
    width: bars ? 1 : 2,
    fill: bars ? s.color + "cc" : undefined,
    spanGaps: true,
    points: { show: false },
    paths: bars
      ? uPlot.paths.bars({ disp: { x0: { unit: 3, values: () => spec.data[0].map((x) => x - 0.4 + (k * 0.8) / n) }, size: { unit: 3, values: () => [0.8 / n] } } })
      : s.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
  })));
  const opts = {
    ...size,
    title: spec.title,
    series,
    scales: {
      x: bars ? { time: false, range: [-0.6, spec.categories.length - 0.4] } : { time: false, distr: spec.xLog ? 3 : 1 },
      y: { distr: spec.yLog ? 3 : 1, range: spec.yFromZero ? (u, min, max) => [0, max * 1.1] : undefined },
    },
    axes: [
      bars
        ? { splits: () => spec.categories.map((_, j) => j), values: () => spec.categories, grid: { show: false } }
        : { label: spec.xLabel, values: (u, vals) => vals.map(shortNumber) },
      { label: spec.yLabel, values: (u, vals) => vals.map(shortNumber), size: 60 },
    ],
    legend: { live: false },
    cursor: { show: false },
  };
  new uPlot(opts, spec.data, document.getElementById("chart" + i));
});
window.__plotted = true;
`;

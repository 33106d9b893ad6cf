import type { Chart, Figure } from "../plot/plot.js";
import type { RedisBacklogResult } from "./redis.js";
import type { SqliteBacklogResult } from "./sqlite.js";

/** RSS and file size against pending jobs, and the add (and drain) rate per segment: flat lines are the goal. */
export function backlogFigure(sqlite: SqliteBacklogResult | null, redis: RedisBacklogResult | null): Figure {
  const charts: Chart[] = [];
  if (sqlite) {
    const x = sqlite.segments.map((s) => s.count);
    charts.push(
      {
        kind: "lines",
        title: "SQLite: memory and file against pending jobs",
        xLabel: "pending jobs",
        yLabel: "MB",
        yFromZero: true,
        series: [
          { label: "process RSS", x, y: sqlite.segments.map((s) => s.rssMB) },
          { label: "database file + WAL", x, y: sqlite.segments.map((s) => s.storeMB ?? 0) },
        ],
      },
      {
        kind: "lines",
        title: "SQLite: add rate per segment (addBulk)",
        xLabel: "pending jobs",
        yLabel: "jobs/s",
        yFromZero: true,
        series: [{ label: "add jobs/s", x, y: sqlite.segments.map((s) => s.rate) }],
      },
    );
  }
  if (redis) {
    charts.push({
      kind: "lines",
      title: "Redis: add and drain rate per segment",
      xLabel: "jobs added / drained",
      yLabel: "jobs/s",
      yFromZero: true,
      series: [
        { label: "far-future add", x: redis.addSegments.map((s) => s.count), y: redis.addSegments.map((s) => s.rate) },
        {
          label: "due-now claim + complete",
          x: redis.drainSegments.map((s) => s.count),
          y: redis.drainSegments.map((s) => s.rate),
        },
      ],
    });
  }
  return {
    title: "A large backlog",
    subtitle: "far-future jobs due 30–31 days out, addBulk of 1,000; bench/backlog/run.ts",
    charts,
  };
}

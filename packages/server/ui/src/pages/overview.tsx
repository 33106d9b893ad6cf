import { useState } from "preact/hooks";
import { type Counts, get, JOB_STATES, q } from "../api";
import { TimeChart } from "../chart";
import { ErrorNote } from "../components";
import { usePoll } from "../hooks";

interface Overview {
  now: number;
  intervalMs: number;
  queues: {
    name: string;
    counts: Counts;
    series: {
      at: number[];
      handedOut: number[];
      completed: number[];
      failed: number[];
      latenessP50: (number | null)[];
      latenessP99: (number | null)[];
    };
  }[];
  alerts: { queue: string; kind: string; message: string }[];
}

const ALERT_TITLES: Record<string, string> = {
  "dead-letters-growing": "Dead letters growing",
  lateness: "Late firings",
  "workers-gone": "Workers gone?",
};

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

export function OverviewPage() {
  const { data, error } = usePoll(() => get<Overview>("/v1/overview"), [], 5_000);
  const [chosen, setChosen] = useState<string | null>(null);
  // Until one is chosen, chart the busiest queue of the hour.
  const busiest = data?.queues.reduce<Overview["queues"][number] | undefined>(
    (best, x) => (best && sum(best.series.handedOut) >= sum(x.series.handedOut) ? best : x),
    undefined,
  );
  const queue = data?.queues.find((x) => x.name === chosen) ?? busiest;
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <ErrorNote error={error} />
      <section aria-labelledby="alerts-title" class="alerts">
        <h2 id="alerts-title">Alerts</h2>
        {data && data.alerts.length === 0 && <p class="quiet">No alerts.</p>}
        <ul aria-live="polite">
          {data?.alerts.map((a) => (
            <li key={`${a.queue}-${a.kind}`} class={`alert alert-${a.kind}`}>
              <strong>{ALERT_TITLES[a.kind] ?? a.kind}</strong> — queue{" "}
              <a href={`#/jobs?queue=${q(a.queue)}`}>{a.queue}</a>: {a.message}
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="queues-title">
        <h2 id="queues-title">Queues</h2>
        {data && data.queues.length === 0 && <p class="quiet">No queue holds a job yet.</p>}
        {data && data.queues.length > 0 && (
          <table data-testid="queues">
            <caption class="visually-hidden">Jobs by queue and state</caption>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                {JOB_STATES.map((s) => (
                  <th scope="col" class="num" key={s}>
                    {s}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {data.queues.map((row) => (
                <tr key={row.name} data-queue={row.name}>
                  <th scope="row">{row.name}</th>
                  {JOB_STATES.map((s) => (
                    <td class="num" key={s} data-state={s}>
                      <a
                        href={s === "dead" ? `#/dead?queue=${q(row.name)}` : `#/jobs?queue=${q(row.name)}&state=${s}`}
                        aria-label={`${row.counts[s]} ${s} in ${row.name}`}
                      >
                        {row.counts[s]}
                      </a>
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {queue && (
        <section aria-labelledby="charts-title">
          <h2 id="charts-title">The last hour</h2>
          <label for="chart-queue">Queue</label>{" "}
          <select
            id="chart-queue"
            value={queue.name}
            onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}
          >
            {data?.queues.map((row) => (
              <option key={row.name}>{row.name}</option>
            ))}
          </select>
          <p class="hint">
            What this server handed out and saw finish, in {Math.round((data?.intervalMs ?? 10_000) / 1000)} s buckets.
          </p>
          <div class="charts">
            <TimeChart
              id="throughput"
              title={`Throughput of ${queue.name} (jobs per bucket)`}
              unit="jobs"
              at={queue.series.at}
              lines={[
                { label: "handed out", values: queue.series.handedOut, color: "#1d4ed8" },
                { label: "completed", values: queue.series.completed, color: "#15803d" },
                { label: "failed", values: queue.series.failed, color: "#b91c1c" },
              ]}
            />
            <TimeChart
              id="lateness"
              title={`Firing lateness of ${queue.name} (ms)`}
              unit="ms"
              at={queue.series.at}
              lines={[
                { label: "p50", values: queue.series.latenessP50, color: "#1d4ed8", points: true },
                { label: "p99", values: queue.series.latenessP99, color: "#9a3412", dash: [6, 4], points: true },
              ]}
            />
          </div>
        </section>
      )}
    </section>
  );
}

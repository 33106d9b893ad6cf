import { useState } from "preact/hooks";
import { get, type Job, post, q } from "../api";
import { ActionButton, ErrorNote, StateBadge, useNotice } from "../components";
import { interval, relative, when } from "../format";
import { usePoll } from "../hooks";

/** How many upcoming firings each row shows. */
const NEXT = 5;

interface Schedule {
  name: string;
  state: "active" | "paused" | "ended";
  definition: { cron: string | null; timezone: string | null; everyMs: number | null; queue: string };
  next: number[];
}

/** A firing added by Trigger on this page: a job in the schedule's queue, linked to its page. */
interface Triggered {
  schedule: string;
  queue: string;
  id: string;
  at: number;
}

function timetable({ definition }: Schedule): string {
  if (definition.cron !== null) return `${definition.cron} (${definition.timezone ?? "UTC"})`;
  return definition.everyMs !== null ? `every ${interval(definition.everyMs)}` : "—";
}

export function SchedulesPage() {
  const { data, error, refresh } = usePoll(() => get<{ schedules: Schedule[] }>(`/v1/schedules?next=${NEXT}`), []);
  const [actionError, setActionError] = useState<Error | null>(null);
  const [notice, say] = useNotice();
  const [triggered, setTriggered] = useState<Triggered[]>([]);
  const act = async (what: string, run: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await run();
      say(what);
      refresh();
    } catch (err) {
      setActionError(err as Error);
    }
  };
  const trigger = (schedule: Schedule) =>
    act(`Triggered ${schedule.name}.`, async () => {
      const job = await post<Job>(`/v1/schedules/${q(schedule.name)}/trigger`, {});
      const firing = { schedule: schedule.name, queue: job.queue, id: job.id, at: Date.now() };
      setTriggered((seen) => [firing, ...seen].slice(0, 10));
    });

  return (
    <section aria-labelledby="schedules-title">
      <h1 id="schedules-title">Schedules</h1>
      <ErrorNote error={actionError ?? error} />
      {notice}
      {data && data.schedules.length === 0 && <p class="quiet">No schedule is defined on this store.</p>}
      {data && data.schedules.length > 0 && (
        <table data-testid="schedules">
          <thead>
            <tr>
              <th scope="col">Schedule</th>
              <th scope="col">State</th>
              <th scope="col">Timetable</th>
              <th scope="col">Queue</th>
              <th scope="col">Next firings</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data.schedules.map((schedule) => {
              const base = `/v1/schedules/${q(schedule.name)}`;
              const queue = schedule.definition.queue;
              const paused = schedule.state === "paused";
              return (
                <tr key={schedule.name} data-schedule={schedule.name}>
                  <th scope="row">{schedule.name}</th>
                  <td>
                    <StateBadge state={schedule.state} />
                  </td>
                  <td>
                    <code>{timetable(schedule)}</code>
                  </td>
                  <td>
                    <a href={`#/jobs?queue=${q(queue)}&state=scheduled`}>{queue}</a>
                  </td>
                  <td>
                    {schedule.next.length === 0 ? (
                      <span class="quiet">none</span>
                    ) : (
                      <ol class="firings" aria-label={`next firings of ${schedule.name}`}>
                        {schedule.next.map((at) => (
                          <li key={at}>
                            <time dateTime={new Date(at).toISOString()}>{when(at)}</time>{" "}
                            <span class="quiet">{relative(at)}</span>
                          </li>
                        ))}
                      </ol>
                    )}
                  </td>
                  <td>
                    {/* A flex box inside the cell: a flex cell would lose its row's height. */}
                    <div class="row-actions">
                      <ActionButton
                        scope="produce"
                        label={`${paused ? "Resume" : "Pause"} ${schedule.name}`}
                        disabled={schedule.state === "ended"}
                        onClick={() =>
                          act(`${paused ? "Resumed" : "Paused"} ${schedule.name}.`, () =>
                            post(`${base}/${paused ? "resume" : "pause"}`, {}),
                          )
                        }
                      >
                        {paused ? "Resume" : "Pause"}
                      </ActionButton>
                      <ActionButton
                        scope="produce"
                        label={`Trigger ${schedule.name}`}
                        onClick={() => trigger(schedule)}
                      >
                        Trigger
                      </ActionButton>
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {triggered.length > 0 && (
        <section aria-labelledby="triggered-title">
          <h2 id="triggered-title">Triggered from this page</h2>
          <ul data-testid="triggered">
            {triggered.map((firing) => (
              <li key={firing.id}>
                <a href={`#/jobs/${q(firing.queue)}/${q(firing.id)}`}>
                  {firing.schedule}: firing {firing.id}
                </a>{" "}
                <span class="quiet">
                  in {firing.queue}, {relative(firing.at)}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}

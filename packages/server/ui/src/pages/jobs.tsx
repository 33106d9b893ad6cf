import { useState } from "preact/hooks";
import { ApiError, get, JOB_STATES, type Job, type Page, q } from "../api";
import { ErrorNote, StateBadge } from "../components";
import { relative, when } from "../format";
import { usePoll } from "../hooks";
import { GroupsPanel } from "./groups";
import { QueuePicker, useQueues } from "./queue-picker";

const PAGE_SIZE = 20;

function go(queue: string, state: string) {
  location.hash = `#/jobs?queue=${q(queue)}&state=${q(state)}`;
}

export function JobsPage({ params }: { params: URLSearchParams }) {
  const queues = useQueues();
  const names = queues.data?.queues.map((x) => x.name) ?? [];
  const queue = params.get("queue") ?? names[0] ?? "";
  const state = params.get("state") ?? "scheduled";
  // The cursors of the pages seen, so "Previous" can go back (a cursor only goes forward).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const list = usePoll(
    () =>
      queue === ""
        ? Promise.resolve({ jobs: [], next: null } as Page)
        : get<Page>(
            `/v1/queues/${q(queue)}/jobs?state=${q(state)}&limit=${PAGE_SIZE}${cursor ? `&cursor=${q(cursor)}` : ""}`,
          ),
    [queue, state, cursor],
  );
  const shown = queues.data?.queues.find((x) => x.name === queue);
  // The group column only where this page has a grouped job: most queues have none.
  const grouped = list.data?.jobs.some((job) => job.group) ?? false;
  const counts = shown?.counts;

  const [search, setSearch] = useState("");
  const [searchError, setSearchError] = useState<Error | null>(null);
  const find = async (event: Event) => {
    event.preventDefault();
    setSearchError(null);
    const term = search.trim();
    if (term === "" || queue === "") return;
    // An id first, then a business key.
    for (const path of [`/v1/queues/${q(queue)}/jobs/${q(term)}`, `/v1/queues/${q(queue)}/keys/${q(term)}`]) {
      try {
        const job = await get<Job>(path);
        location.hash = `#/jobs/${q(queue)}/${q(job.id)}`;
        return;
      } catch (err) {
        if (!(err instanceof ApiError) || (err.status !== 404 && err.status !== 400)) {
          setSearchError(err as Error);
          return;
        }
      }
    }
    setSearchError(new Error(`no job with id or key ${JSON.stringify(term)} in ${queue}`));
  };

  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">Jobs</h1>
      <div class="toolbar">
        <QueuePicker
          id="jobs-queue"
          value={queue}
          names={names}
          onChange={(name) => {
            setCursors([null]);
            go(name, state);
          }}
        />
        <span class="field">
          <label for="jobs-state">State</label>
          <select
            id="jobs-state"
            value={state}
            onChange={(e) => {
              setCursors([null]);
              go(queue, (e.target as HTMLSelectElement).value);
            }}
          >
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
                {counts ? ` (${counts[s]})` : ""}
              </option>
            ))}
          </select>
        </span>
        <search>
          <form class="field search" onSubmit={find}>
            <label for="jobs-search">Find by id or key</label>
            <input id="jobs-search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
            <button type="submit">Find</button>
          </form>
        </search>
      </div>
      <ErrorNote error={searchError ?? list.error ?? queues.error} />
      {list.data && list.data.jobs.length === 0 && <p class="quiet">No {state} jobs in this queue.</p>}
      {list.data && list.data.jobs.length > 0 && (
        <table data-testid="jobs">
          <caption class="visually-hidden">
            {state} jobs of {queue}
          </caption>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Key</th>
              {grouped && <th scope="col">Group</th>}
              <th scope="col">State</th>
              <th scope="col">Due</th>
              <th scope="col" class="num">
                Attempts
              </th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {list.data.jobs.map((job) => (
              <tr key={job.id}>
                <td>
                  <a href={`#/jobs/${q(queue)}/${q(job.id)}`}>{job.id}</a>
                </td>
                <td>{job.key ?? "—"}</td>
                {grouped && <td>{job.group ?? "—"}</td>}
                <td>
                  <StateBadge state={job.state} />
                </td>
                <td title={when(job.runAt)}>{relative(job.runAt)}</td>
                <td class="num">
                  {job.attempts}/{job.maxAttempts}
                </td>
                <td class="clip">{job.errors.at(-1)?.message ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages of jobs">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          disabled={!list.data?.next}
          onClick={() => list.data?.next && setCursors([...cursors, list.data.next])}
        >
          Next page
        </button>
      </nav>
      {queue !== "" && <GroupsPanel queue={queue} groupLimits={shown?.flow?.groupLimits ?? null} />}
    </section>
  );
}

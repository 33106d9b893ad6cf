import { useState } from "preact/hooks";
import { del, get, type Job, post, q } from "../api";
import { ActionButton, Confirm, ErrorNote, StateBadge, useNotice } from "../components";
import { json, relative, when } from "../format";
import { usePoll } from "../hooks";

export function JobPage({ queue, id }: { queue: string; id: string }) {
  const path = `/v1/queues/${q(queue)}/jobs/${q(id)}`;
  const { data: job, error, refresh } = usePoll(() => get<Job>(path), [path]);
  const [delay, setDelay] = useState("10m");
  const [actionError, setActionError] = useState<Error | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [notice, say] = useNotice();

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
  const scheduled = job?.state === "scheduled";
  const unfinished = scheduled || job?.state === "active";

  return (
    <section aria-labelledby="job-title">
      <p>
        <a href={`#/jobs?queue=${q(queue)}&state=${job?.state ?? "scheduled"}`}>← {queue}</a>
      </p>
      <h1 id="job-title">
        Job {id} {job && <StateBadge state={job.state} />}
      </h1>
      <ErrorNote error={error ?? actionError} />
      {notice}
      {job && (
        <>
          <dl class="facts">
            <dt>Queue</dt>
            <dd>{job.queue}</dd>
            <dt>Key</dt>
            <dd>{job.key ?? "—"}</dd>
            <dt>Group</dt>
            <dd>{job.group ?? "—"}</dd>
            <dt>Due</dt>
            <dd data-testid="due">
              {when(job.runAt)} ({relative(job.runAt)})
            </dd>
            <dt>Attempts</dt>
            <dd>
              {job.attempts} of {job.maxAttempts}
            </dd>
            <dt>Lease</dt>
            <dd>
              {job.state === "active" && job.leaseExpiresAt
                ? `held by a worker until ${when(job.leaseExpiresAt)} (${relative(job.leaseExpiresAt)})`
                : "not held"}
            </dd>
            <dt>Created</dt>
            <dd>{when(job.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{when(job.updatedAt)}</dd>
          </dl>
          <h2>Actions</h2>
          <div class="toolbar">
            <span class="field">
              <label for="reschedule-delay">New delay</label>
              <input
                id="reschedule-delay"
                size={8}
                value={delay}
                aria-describedby="reschedule-hint"
                onInput={(e) => setDelay((e.target as HTMLInputElement).value)}
              />
            </span>
            <ActionButton
              scope="produce"
              disabled={!scheduled}
              onClick={() => act(`Rescheduled to run in ${delay}.`, () => post(`${path}/reschedule`, { delay }))}
            >
              Reschedule
            </ActionButton>
            <ActionButton
              scope="produce"
              disabled={!scheduled}
              onClick={() => act("Due now.", () => post(`${path}/reschedule`, {}))}
            >
              Run now
            </ActionButton>
            <ActionButton scope="produce" danger disabled={!unfinished} onClick={() => setConfirming(true)}>
              Cancel job
            </ActionButton>
          </div>
          <p id="reschedule-hint" class="hint">
            A duration such as 30s, 10m, 2h. Only a scheduled job can be moved.
          </p>
          <Confirm
            open={confirming}
            title="Cancel this job?"
            confirmLabel="Cancel the job"
            onCancel={() => setConfirming(false)}
            onConfirm={() => {
              setConfirming(false);
              void act("Cancelled.", () => del(path));
            }}
          >
            Job {id} of {queue} will not run.
          </Confirm>
          <h2>Payload</h2>
          <pre>{json(job.payload)}</pre>
          {job.result !== null && job.result !== undefined && (
            <>
              <h2>Result</h2>
              <pre>{json(job.result)}</pre>
            </>
          )}
          <h2>Error history</h2>
          {job.errors.length === 0 ? (
            <p class="quiet">No failed attempt.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Attempt</th>
                  <th scope="col">When</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {job.errors.map((e) => (
                  <tr key={`${e.attempt}-${e.at}`}>
                    <td>{e.attempt}</td>
                    <td>{when(e.at)}</td>
                    <td>{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

import { useState } from "preact/hooks";
import { type Counts, del, get, post, q } from "../api";
import { ActionButton, ErrorNote, useNotice } from "../components";
import { relative, when } from "../format";
import { usePoll } from "../hooks";
import { useCan } from "../session";

interface ProbeRecord {
  at: number;
  answer: "pending" | "done" | "failed" | "error";
  reason?: string;
  error?: string;
}
interface CheckStatus {
  name: string;
  key: string;
  state: string;
  probes: number;
  history: ProbeRecord[];
  startedAt: number;
  nextProbeAt: number | null;
  deadlineAt: number | null;
  endedAt: number | null;
  endedBy: string | null;
  reason: string | null;
}
interface ChecksAnswer {
  checks: { name: string; counts: Counts; keys: CheckStatus[]; next: string | null }[];
}

function Timeline({ history }: { history: ProbeRecord[] }) {
  if (history.length === 0) return <span class="quiet">not probed yet</span>;
  return (
    <ol class="timeline" aria-label="probes, oldest first">
      {history.map((probe, i) => (
        <li key={`${probe.at}-${i}`} class={`probe probe-${probe.answer}`} title={probe.reason ?? probe.error ?? ""}>
          <span class="visually-hidden">at </span>
          {new Date(probe.at).toLocaleTimeString(undefined, { hour12: false })}: {probe.answer}
        </li>
      ))}
    </ol>
  );
}

export function CheckPage() {
  const can = useCan("produce");
  const [state, setState] = useState<"running" | "ended">("running");
  const { data, error, refresh } = usePoll(
    () => (can ? get<ChecksAnswer>(`/v1/checks?state=${state}`) : Promise.resolve({ checks: [] })),
    [can, state],
  );
  const [actionError, setActionError] = useState<Error | null>(null);
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
  return (
    <section aria-labelledby="checks-title">
      <h1 id="checks-title">Checks</h1>
      {!can && <p class="note">Check statuses carry their input: reading them needs a token with the produce scope.</p>}
      <div class="toolbar">
        <span class="field">
          <label for="checks-state">Show</label>
          <select
            id="checks-state"
            value={state}
            onChange={(e) => setState((e.target as HTMLSelectElement).value as "running")}
          >
            <option value="running">running checks</option>
            <option value="ended">ended checks (outcomes)</option>
          </select>
        </span>
      </div>
      <ErrorNote error={actionError ?? error} />
      {notice}
      {data && data.checks.length === 0 && can && <p class="quiet">No check is defined on this server.</p>}
      {data?.checks.map((check) => (
        <section key={check.name} aria-labelledby={`check-${check.name}`} class="card">
          <h2 id={`check-${check.name}`}>
            {check.name}{" "}
            <span class="quiet">
              ({check.keys.length} {state}, {check.counts.dead} dead letter{check.counts.dead === 1 ? "" : "s"})
            </span>
          </h2>
          {check.keys.length === 0 ? (
            <p class="quiet">None.</p>
          ) : (
            <table data-testid={`check-${check.name}`}>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">State</th>
                  <th scope="col">Probes</th>
                  <th scope="col">Started</th>
                  <th scope="col">{state === "running" ? "Next probe" : "Ended"}</th>
                  <th scope="col">Deadline</th>
                  {state === "running" && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {check.keys.map((status) => {
                  const base = `/v1/checks/${q(check.name)}/${q(status.key)}`;
                  return (
                    <tr key={status.key}>
                      <th scope="row">{status.key}</th>
                      <td>
                        {status.state}
                        {status.endedBy ? ` (by ${status.endedBy})` : ""}
                        {status.reason ? `: ${status.reason}` : ""}
                      </td>
                      <td>
                        <Timeline history={status.history} />
                      </td>
                      <td title={when(status.startedAt)}>{relative(status.startedAt)}</td>
                      <td>{state === "running" ? relative(status.nextProbeAt) : relative(status.endedAt)}</td>
                      <td>{relative(status.deadlineAt)}</td>
                      {state === "running" && (
                        <td class="row-actions">
                          <ActionButton
                            scope="produce"
                            label={`Resolve ${status.key}`}
                            onClick={() =>
                              act(`Resolved ${status.key}.`, () =>
                                post(`${base}/resolve`, { result: { by: "dashboard" } }),
                              )
                            }
                          >
                            Resolve
                          </ActionButton>
                          <ActionButton
                            scope="produce"
                            danger
                            label={`Cancel ${status.key}`}
                            onClick={() => act(`Cancelled ${status.key}.`, () => del(base))}
                          >
                            Cancel
                          </ActionButton>
                        </td>
                      )}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </section>
      ))}
    </section>
  );
}

import { useState } from "preact/hooks";
import { get, post, q } from "../api";
import { ActionButton, ErrorNote, useNotice } from "../components";
import { relative } from "../format";
import { usePoll } from "../hooks";
import { useCan } from "../session";

interface SweepRun {
  id: string;
  state: string;
  startedAt: number;
  finishedAt: number | null;
  pages: number;
  items: number;
  failed: number;
  total: number | null;
  rate: number;
  etaMs: number | null;
  error: string | null;
}
interface SweepStatus {
  name: string;
  state: string;
  run: SweepRun | null;
  retrying: number;
  dead: number;
}

export function SweepsPage() {
  const can = useCan("produce");
  const { data, error, refresh } = usePoll(
    () => (can ? get<{ sweeps: SweepStatus[] }>("/v1/sweeps") : Promise.resolve({ sweeps: [] })),
    [can],
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
    <section aria-labelledby="sweeps-title">
      <h1 id="sweeps-title">Sweeps</h1>
      {!can && <p class="note">Sweeps need a token with the produce scope.</p>}
      <ErrorNote error={actionError ?? error} />
      {notice}
      {data && data.sweeps.length === 0 && can && <p class="quiet">No sweep is defined on this server.</p>}
      {data && data.sweeps.length > 0 && (
        <table data-testid="sweeps">
          <thead>
            <tr>
              <th scope="col">Sweep</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col" class="num">
                Items
              </th>
              <th scope="col" class="num">
                Failed
              </th>
              <th scope="col">Rate</th>
              <th scope="col">Started</th>
              <th scope="col">Retrying / dead</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data.sweeps.map((sweep) => {
              const run = sweep.run;
              const base = `/v1/sweeps/${q(sweep.name)}`;
              return (
                <tr key={sweep.name}>
                  <th scope="row">{sweep.name}</th>
                  <td>
                    {sweep.state}
                    {run?.error ? `: ${run.error}` : ""}
                  </td>
                  <td>
                    {run?.total ? (
                      <progress max={run.total} value={run.items} aria-label={`${sweep.name} progress`}>
                        {run.items} of {run.total}
                      </progress>
                    ) : (
                      <span>{run ? `${run.pages} page(s)` : "—"}</span>
                    )}
                    {run?.etaMs ? <span class="quiet"> ETA {Math.ceil(run.etaMs / 1000)} s</span> : null}
                  </td>
                  <td class="num">{run?.items ?? 0}</td>
                  <td class="num">{run?.failed ?? 0}</td>
                  <td>{run ? `${run.rate.toFixed(1)}/s` : "—"}</td>
                  <td>{relative(run?.startedAt)}</td>
                  <td>
                    {sweep.retrying} / {sweep.dead}
                  </td>
                  <td class="row-actions">
                    <ActionButton
                      scope="produce"
                      label={`Start ${sweep.name}`}
                      disabled={sweep.state === "running"}
                      onClick={() => act(`Started ${sweep.name}.`, () => post(`${base}/start`, {}))}
                    >
                      Start
                    </ActionButton>
                    <ActionButton
                      scope="produce"
                      danger
                      label={`Cancel ${sweep.name}`}
                      disabled={sweep.state !== "running"}
                      onClick={() => act(`Cancelled ${sweep.name}.`, () => post(`${base}/cancel`, {}))}
                    >
                      Cancel
                    </ActionButton>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

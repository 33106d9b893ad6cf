import { useState } from "preact/hooks";
import { get, type Page, post, q } from "../api";
import { ActionButton, Confirm, ErrorNote, useNotice } from "../components";
import { relative, when } from "../format";
import { usePoll } from "../hooks";
import { useCan } from "../session";
import { QueuePicker, useQueues } from "./queue-picker";

type Action = { kind: "redrive" | "purge"; ids: string[] | "all" };

export function DeadPage({ params }: { params: URLSearchParams }) {
  const queues = useQueues();
  const names = queues.data?.queues.map((x) => x.name) ?? [];
  const queue = params.get("queue") ?? queues.data?.queues.find((x) => x.counts.dead > 0)?.name ?? names[0] ?? "";
  const admin = useCan("admin");
  const list = usePoll(
    () =>
      queue === "" || !admin
        ? Promise.resolve({ jobs: [], next: null } as Page)
        : get<Page>(`/v1/queues/${q(queue)}/dead?limit=500`),
    [queue, admin],
  );
  const [filter, setFilter] = useState("");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [pending, setPending] = useState<Action | null>(null);
  const [actionError, setActionError] = useState<Error | null>(null);
  const [notice, say] = useNotice();

  const term = filter.trim().toLowerCase();
  const shown = (list.data?.jobs ?? []).filter(
    (job) =>
      term === "" ||
      job.id.toLowerCase().includes(term) ||
      (job.key ?? "").toLowerCase().includes(term) ||
      job.errors.some((e) => e.message.toLowerCase().includes(term)),
  );
  const chosen = shown.filter((job) => selected.has(job.id)).map((job) => job.id);
  const allShownChosen = shown.length > 0 && chosen.length === shown.length;
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const count = pending ? (pending.ids === "all" ? (list.data?.jobs.length ?? 0) : pending.ids.length) : 0;
  const run = async (action: Action) => {
    setPending(null);
    setActionError(null);
    try {
      const body = action.ids === "all" ? { all: true } : { ids: action.ids };
      const answer = await post<{ redriven?: number; purged?: number }>(
        `/v1/queues/${q(queue)}/dead/${action.kind}`,
        body,
      );
      say(action.kind === "redrive" ? `Redrove ${answer.redriven} job(s).` : `Purged ${answer.purged} job(s).`);
      setSelected(new Set());
      list.refresh();
      queues.refresh();
    } catch (err) {
      setActionError(err as Error);
    }
  };

  return (
    <section aria-labelledby="dead-title">
      <h1 id="dead-title">Dead letters</h1>
      <div class="toolbar">
        <QueuePicker
          id="dead-queue"
          value={queue}
          names={names}
          onChange={(name) => {
            setSelected(new Set());
            location.hash = `#/dead?queue=${q(name)}`;
          }}
        />
        <span class="field">
          <label for="dead-filter">Filter by id, key or error</label>
          <input id="dead-filter" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </span>
      </div>
      {!admin && <p class="note">Listing and tending dead letters needs a token with the admin scope.</p>}
      <ErrorNote error={actionError ?? list.error} />
      {notice}
      <div class="toolbar">
        <ActionButton
          scope="admin"
          disabled={chosen.length === 0}
          onClick={() => setPending({ kind: "redrive", ids: chosen })}
        >
          Redrive selected ({chosen.length})
        </ActionButton>
        <ActionButton
          scope="admin"
          danger
          disabled={chosen.length === 0}
          onClick={() => setPending({ kind: "purge", ids: chosen })}
        >
          Purge selected ({chosen.length})
        </ActionButton>
        <ActionButton
          scope="admin"
          disabled={(list.data?.jobs.length ?? 0) === 0}
          onClick={() => setPending({ kind: "redrive", ids: "all" })}
        >
          Redrive every dead job of {queue || "the queue"}
        </ActionButton>
      </div>
      {list.data && shown.length === 0 && admin && (
        <p class="quiet">No dead letters{term ? " match the filter" : ""}.</p>
      )}
      {shown.length > 0 && (
        <table data-testid="dead">
          <caption class="visually-hidden">Dead jobs of {queue}</caption>
          <thead>
            <tr>
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select every job shown"
                  checked={allShownChosen}
                  onChange={() => setSelected(allShownChosen ? new Set() : new Set(shown.map((j) => j.id)))}
                />
              </th>
              <th scope="col">Id</th>
              <th scope="col">Key</th>
              <th scope="col">Died</th>
              <th scope="col" class="num">
                Attempts
              </th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((job) => (
              <tr key={job.id}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select job ${job.id}`}
                    checked={selected.has(job.id)}
                    onChange={() => toggle(job.id)}
                  />
                </td>
                <td>
                  <a href={`#/jobs/${q(queue)}/${q(job.id)}`}>{job.id}</a>
                </td>
                <td>{job.key ?? "—"}</td>
                <td title={when(job.updatedAt)}>{relative(job.updatedAt)}</td>
                <td class="num">{job.attempts}</td>
                <td class="clip">{job.errors.at(-1)?.message ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Confirm
        open={pending !== null}
        title={pending?.kind === "purge" ? "Purge dead jobs?" : "Redrive dead jobs?"}
        confirmLabel={pending?.kind === "purge" ? `Purge ${count}` : `Redrive ${count}`}
        onCancel={() => setPending(null)}
        onConfirm={() => pending && void run(pending)}
      >
        {pending?.kind === "purge"
          ? `${count} dead job(s) of ${queue} will be deleted for good.`
          : `${count} dead job(s) of ${queue} will be scheduled again, their attempts reset.`}
      </Confirm>
    </section>
  );
}

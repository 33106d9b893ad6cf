import { type BusiestGroups, type GroupLimits, get, q } from "../api";
import { ErrorNote } from "../components";
import { relative, when } from "../format";
import { usePoll } from "../hooks";

/** Groups shown on the queue's page: the busiest few; /metrics and the API go further. */
const SHOWN = 10;

export function describeLimits(limits: GroupLimits | null): string {
  if (!limits || (limits.concurrency === null && limits.limit === null)) return "none";
  const parts: string[] = [];
  if (limits.concurrency !== null) parts.push(`${limits.concurrency} active at once`);
  if (limits.limit !== null) parts.push(`${limits.limit.rate} starts per ${limits.limit.perMs} ms`);
  return parts.join(", ");
}

/**
 * A queue's groups (docs/flow-control.md#groups): the default limits for each group and the
 * groups with the most active jobs. Shown only for a queue that uses groups.
 */
export function GroupsPanel({ queue, groupLimits }: { queue: string; groupLimits: GroupLimits | null }) {
  const busiest = usePoll(() => get<BusiestGroups>(`/v1/queues/${q(queue)}/groups?limit=${SHOWN}`), [queue]);
  const active = busiest.data?.activeGroups ?? 0;
  if (groupLimits === null && active === 0 && !busiest.error) return null;
  return (
    <section aria-labelledby="groups-title" data-testid="groups">
      <h2 id="groups-title">Groups</h2>
      <p>
        Limits for each group: <span data-testid="group-limits">{describeLimits(groupLimits)}</span>
      </p>
      <ErrorNote error={busiest.error} />
      {busiest.data && active === 0 && <p class="quiet">No group has an active job.</p>}
      {busiest.data && busiest.data.groups.length > 0 && (
        <table data-testid="busiest-groups">
          <caption class="visually-hidden">The busiest groups of {queue}</caption>
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col" class="num">
                Active
              </th>
              <th scope="col" class="num">
                Waiting
              </th>
              <th scope="col">Limits</th>
              <th scope="col">Paused</th>
            </tr>
          </thead>
          <tbody>
            {busiest.data.groups.map((g) => (
              <tr key={g.group} data-group={g.group}>
                <th scope="row">{g.group}</th>
                <td class="num">{g.active}</td>
                <td class="num">{g.scheduled}</td>
                <td>
                  {describeLimits(g.limits)}
                  {g.ownLimits ? " (its own)" : ""}
                </td>
                <td title={when(g.pausedUntil)}>
                  {g.pausedUntil === null ? "no" : `until ${relative(g.pausedUntil)}`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {busiest.data && active > busiest.data.groups.length && (
        <p class="hint">
          The {busiest.data.groups.length} busiest of {active} groups with an active job.
        </p>
      )}
    </section>
  );
}

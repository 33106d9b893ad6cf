import { CheckbackError } from "checkback";
import {
  CHECK_QUEUE_PREFIX,
  SCHEDULE_QUEUE_PREFIX,
  SCHEDULES_QUEUE,
  SWEEP_ITEMS_QUEUE_PREFIX,
  SWEEP_QUEUE_PREFIX,
} from "checkback/internal";
import type { FastifyInstance } from "fastify";
import { syncHook } from "./sync-hook.js";

/**
 * Queues the server keeps for itself, out of reach of every route that names a queue:
 *   - "_checkback…": the server's own settings (push targets, check definitions);
 *   - "check.<name>": a check's probe and outcome jobs. A produce token adding a job there
 *     would have the server POST a forged, signed outcome to the check's callback; a consume
 *     token claiming one could end any check with any result. Checks are reached only through
 *     /v1/checks, whose routes hold their own scopes;
 *   - "sweep.<name>", "sweep-items.<name>": a sweep's runs (their payload is the checkpoint) and
 *     item retries (POSTed to the sweep's item URL). Reached only through /v1/sweeps;
 *   - "_schedules" (every schedule's ticker job: its payload is the schedule's definition) and
 *     "schedule.<name>" (firings of a schedule handled by a library handler): reached only
 *     through /v1/schedules.
 * A request naming one gets the same answer wherever it comes in: 404 UNKNOWN_QUEUE with
 * details.reserved, after auth (so it tells an unauthenticated caller nothing) and before the
 * body is read or validated.
 */
export const SERVER_QUEUE_PREFIX = "_checkback";

/** The server's settings queues only (hidden even from metrics). */
export function isServerQueue(name: string): boolean {
  return name.startsWith(SERVER_QUEUE_PREFIX);
}

export function isReservedQueue(name: string): boolean {
  return isServerQueue(name) || name.startsWith(CHECK_QUEUE_PREFIX) || sweepOf(name) !== null || isScheduleQueue(name);
}

function isScheduleQueue(name: string): boolean {
  return name === SCHEDULES_QUEUE || name.startsWith(SCHEDULE_QUEUE_PREFIX);
}

/** The sweep whose internal queue this is, or null. */
function sweepOf(name: string): string | null {
  for (const prefix of [SWEEP_QUEUE_PREFIX, SWEEP_ITEMS_QUEUE_PREFIX]) {
    if (name.startsWith(prefix)) return name.slice(prefix.length);
  }
  return null;
}

export function refuseReservedQueue(name: string): void {
  if (!isReservedQueue(name)) return;
  const sweep = sweepOf(name);
  const owner = isServerQueue(name)
    ? "the server's own settings"
    : sweep !== null
      ? `sweep ${JSON.stringify(sweep)}: reach it through /v1/sweeps/${sweep}`
      : isScheduleQueue(name)
        ? "schedules: reach them through /v1/schedules"
        : `check ${JSON.stringify(name.slice(CHECK_QUEUE_PREFIX.length))}: reach it through /v1/checks/${name.slice(CHECK_QUEUE_PREFIX.length)}`;
  throw new CheckbackError("UNKNOWN_QUEUE", `queue ${JSON.stringify(name)} is reserved for ${owner}`, {
    queue: name,
    reserved: true,
  });
}

/** Every route with a :queue parameter, present and future, refuses reserved names. */
export function guardReservedQueues(app: FastifyInstance): void {
  const guard = syncHook((request) => {
    const { queue } = (request.params ?? {}) as { queue?: unknown };
    if (typeof queue === "string") refuseReservedQueue(queue);
  });
  app.addHook("onRoute", (route) => {
    if (!route.url.includes(":queue")) return;
    const own =
      route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    // Route-level hooks run after the instance's, so auth (401/403) still comes first.
    route.onRequest = [...own, guard];
  });
}

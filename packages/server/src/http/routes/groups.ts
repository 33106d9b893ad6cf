import type { Duration, GroupLimits, GroupLimitsInput, GroupState, Queue } from "checkback";
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.js";
import {
  busiestGroupsSchema,
  errorResponses,
  groupLimitsAnswer,
  groupLimitsBody,
  groupParams,
  groupStateSchema,
  groupsQuery,
  pauseBody,
  queueParams,
} from "../schemas.js";

type QueueParams = { queue: string };
type GroupParams = { queue: string; group: string };

const tags = ["flow"];

/**
 * Groups of a queue (docs/flow-control.md#groups): the queue's default limits for every group,
 * one group's own limits, its pause, its state, and the busiest groups. Scopes as for the
 * queue's own flow routes (flow.ts): changing needs produce, reading any token. A group is
 * reached only through its queue, so the queue rules (a configured queue list, reserved queues)
 * hold for its groups as well.
 */
export async function groupRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const limitsAnswer = { 200: groupLimitsAnswer, ...errorResponses };
  const stateAnswer = { 200: groupStateSchema, ...errorResponses };

  app.get<{ Params: QueueParams }>(
    "/v1/queues/:queue/group-limits",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary: "The queue's default limits for each group (null: none)",
        params: queueParams,
        response: limitsAnswer,
      },
    },
    async (request) => defaultLimits(ctx.queue(request.params.queue)),
  );

  app.put<{ Params: QueueParams; Body: GroupLimitsInput }>(
    "/v1/queues/:queue/group-limits",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary:
          "Limit every group of the queue that has no limits of its own: `concurrency` jobs active at once, `rate` starts per `per` each",
        params: queueParams,
        body: groupLimitsBody,
        response: limitsAnswer,
      },
    },
    async (request) => {
      const queue = ctx.queue(request.params.queue);
      await queue.limitGroups(request.body);
      return defaultLimits(queue);
    },
  );

  app.delete<{ Params: QueueParams }>(
    "/v1/queues/:queue/group-limits",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary: "Lift the queue's default limits for groups",
        params: queueParams,
        response: limitsAnswer,
      },
    },
    async (request) => {
      const queue = ctx.queue(request.params.queue);
      await queue.limitGroups(null);
      return defaultLimits(queue);
    },
  );

  app.get<{ Params: QueueParams; Querystring: { limit: number } }>(
    "/v1/queues/:queue/groups",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary: "The groups with the most active jobs (at most `limit`), and how many groups have an active job",
        params: queueParams,
        querystring: groupsQuery,
        response: { 200: busiestGroupsSchema, ...errorResponses },
      },
    },
    async (request) => ctx.queue(request.params.queue).busiestGroups(request.query.limit),
  );

  app.get<{ Params: GroupParams }>(
    "/v1/queues/:queue/groups/:group",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary:
          "One group: its limits in force, active and waiting jobs, pause and tokens (zeros for a group with no job)",
        params: groupParams,
        response: stateAnswer,
      },
    },
    async (request) => ctx.queue(request.params.queue).groupState(request.params.group),
  );

  app.put<{ Params: GroupParams; Body: GroupLimitsInput }>(
    "/v1/queues/:queue/groups/:group/limits",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary: "Give one group limits of its own, in place of the queue's default",
        params: groupParams,
        body: groupLimitsBody,
        response: stateAnswer,
      },
    },
    async (request) => settleGroup(ctx, request.params, (queue, group) => queue.limitGroup(group, request.body)),
  );

  app.delete<{ Params: GroupParams }>(
    "/v1/queues/:queue/groups/:group/limits",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary: "Drop one group's own limits: it takes the queue's default again",
        params: groupParams,
        response: stateAnswer,
      },
    },
    async (request) => settleGroup(ctx, request.params, (queue, group) => queue.limitGroup(group, null)),
  );

  app.post<{ Params: GroupParams; Body: { delay?: Duration; runAt?: number } }>(
    "/v1/queues/:queue/groups/:group/pause",
    {
      config: { scope: "produce", optionalBody: true },
      schema: {
        tags,
        summary: "Start none of the group's jobs until `delay` from now or the instant `runAt`",
        params: groupParams,
        body: pauseBody,
        response: stateAnswer,
      },
    },
    async (request) => settleGroup(ctx, request.params, (queue, group) => queue.pauseGroup(group, request.body)),
  );

  app.post<{ Params: GroupParams }>(
    "/v1/queues/:queue/groups/:group/resume",
    {
      config: { scope: "produce", optionalBody: true },
      schema: { tags, summary: "Lift the group's pause", params: groupParams, response: stateAnswer },
    },
    async (request) => settleGroup(ctx, request.params, (queue, group) => queue.resumeGroup(group)),
  );
}

async function defaultLimits(queue: Queue): Promise<{ groupLimits: GroupLimits | null }> {
  return { groupLimits: (await queue.flowSettings()).groupLimits };
}

/** Applies a change to one group and answers its state as the store now keeps it. */
async function settleGroup(
  ctx: ServerContext,
  params: GroupParams,
  change: (queue: Queue, group: string) => Promise<void>,
): Promise<GroupState> {
  const queue = ctx.queue(params.queue);
  await change(queue, params.group);
  return queue.groupState(params.group);
}

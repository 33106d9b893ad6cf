/**
 * JSON schemas of requests and responses. Fastify validates requests with them (bodies
 * strictly: no type coercion, no unknown fields), serializes responses with them, and
 * @fastify/swagger turns them into the OpenAPI document. Values whose rules live in the
 * library (durations, back-off, key length) are only typed loosely here and validated by the
 * library, so there is one source of truth for their error messages.
 */
import { IDENTIFIER_PATTERN, JOB_STATES, MAX_ID_LENGTH } from "checkback/internal";

const instant = { type: "integer", description: "epoch milliseconds" } as const;
const duration = {
  type: ["integer", "string"],
  description: 'a duration: milliseconds or a string such as "250ms", "30s", "15m", "2h", "7d"',
} as const;
const anyJson = { description: "any JSON value" } as const;
/**
 * Job ids and lease tokens: the pull routes hand them straight to the store, so the library's
 * rule for identifiers (core/text.ts: no NUL, no unpaired surrogates, a bounded length) is
 * applied here, as the schema pattern the library exports.
 */
const jobId = { type: "string", minLength: 1, maxLength: MAX_ID_LENGTH, pattern: IDENTIFIER_PATTERN } as const;

export const queueParams = {
  type: "object",
  required: ["queue"],
  properties: {
    queue: { type: "string", description: "queue name: 1–128 of letters, digits, _ . : -, not only dots" },
  },
} as const;

export const jobParams = {
  type: "object",
  required: ["queue", "id"],
  properties: { queue: queueParams.properties.queue, id: jobId },
} as const;

export const keyParams = {
  type: "object",
  required: ["queue", "key"],
  properties: {
    queue: queueParams.properties.queue,
    key: { type: "string", minLength: 1, description: "business key (the library checks it)" },
  },
} as const;

const addOptions = {
  delay: duration,
  runAt: instant,
  key: {
    type: "string",
    description:
      "business key, unique among the queue's unfinished jobs: up to 512 characters, without NUL or unpaired surrogates",
  },
  replace: { type: "boolean", description: "replace a scheduled job holding the key" },
  attempts: { type: "integer", minimum: 1 },
  priority: {
    type: "integer",
    description: "order among due jobs, -10..10, higher first (default 0; see docs/flow-control.md)",
  },
  group: {
    type: ["string", "null"],
    description:
      "the job's group (docs/flow-control.md#groups): 1 to 256 characters without control characters; groups take turns and may be limited. A grouped job has priority 0",
  },
  backoff: {
    description: 'retry back-off: a duration, a list of durations, or { type: "fixed" | "exponential" | "list", … }',
  },
} as const;

export const addJobBody = {
  type: "object",
  required: ["payload"],
  additionalProperties: false,
  properties: { payload: anyJson, ...addOptions },
} as const;

export const bulkAddBody = {
  type: "object",
  required: ["jobs"],
  additionalProperties: false,
  properties: { jobs: { type: "array", minItems: 1, maxItems: 10_000, items: addJobBody } },
} as const;

export const whenBody = {
  type: "object",
  additionalProperties: false,
  properties: { delay: duration, runAt: instant },
} as const;

export const limitBody = {
  type: "object",
  required: ["rate", "per"],
  additionalProperties: false,
  properties: {
    rate: { type: "integer", description: "starts allowed per interval, 1..1000000" },
    per: { ...duration, description: "the interval, 1 ms to 24 h" },
  },
} as const;

export const pauseBody = {
  type: "object",
  additionalProperties: false,
  properties: { delay: duration, runAt: instant },
  description: "until when: { delay } from now or the instant { runAt }",
} as const;

/**
 * A group's name travels in the path; the library's rule for it (1 to 256 characters, no
 * control character) answers INVALID_OPTION, so it is only typed here.
 */
export const groupParams = {
  type: "object",
  required: ["queue", "group"],
  properties: {
    queue: queueParams.properties.queue,
    group: { type: "string", description: "group name: 1 to 256 characters without control characters" },
  },
} as const;

/**
 * Limits for groups: `{ concurrency?, rate? }`, an absent field being none. Numbers are typed
 * loosely (the library's bounds answer INVALID_OPTION with the field named).
 */
export const groupLimitsBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    concurrency: {
      type: ["number", "null"],
      description: "at most this many of a group's jobs active at once: an integer 1..1000000 (null: no cap)",
    },
    rate: {
      type: ["object", "null"],
      required: ["rate", "per"],
      additionalProperties: false,
      properties: {
        rate: { type: "number", description: "starts allowed per interval for each group: an integer 1..1000000" },
        per: { ...duration, description: "the interval, 1 ms to 24 h" },
      },
      description: "each group's own token bucket (null: none)",
    },
  },
  description: "{ concurrency?, rate? }: an absent field is none; with neither, the limits are lifted",
} as const;

export const groupsQuery = {
  type: "object",
  additionalProperties: false,
  properties: { limit: { type: "integer", minimum: 1, maximum: 1000, default: 20 } },
} as const;

export const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    state: { type: "string", enum: JOB_STATES, default: "scheduled" },
    limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: "string" },
  },
} as const;

export const pageQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: "string" },
  },
} as const;

const selection = {
  ids: { type: "array", items: jobId, minItems: 1, maxItems: 10_000 },
  all: { type: "boolean", const: true },
} as const;

export const redriveBody = {
  type: "object",
  additionalProperties: false,
  properties: { ...selection, delay: duration, runAt: instant },
} as const;

export const purgeBody = {
  type: "object",
  additionalProperties: false,
  properties: selection,
} as const;

export const claimBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: 1000, default: 1 },
    lease: { ...duration, default: "30s" },
    wait: { ...duration, description: "long-poll: wait up to this long for a due job (at most 30s)" },
  },
} as const;

const leaseToken = jobId;

export const completeBody = {
  type: "object",
  required: ["leaseToken"],
  additionalProperties: false,
  properties: { leaseToken, result: anyJson },
} as const;

export const failBody = {
  type: "object",
  required: ["leaseToken", "error"],
  additionalProperties: false,
  properties: { leaseToken, error: { type: "string", minLength: 1, maxLength: 10_000 } },
} as const;

export const extendBody = {
  type: "object",
  required: ["leaseToken", "lease"],
  additionalProperties: false,
  properties: { leaseToken, lease: duration },
} as const;

export const releaseBody = {
  type: "object",
  required: ["leaseToken"],
  additionalProperties: false,
  properties: {
    leaseToken,
    delay: duration,
    pauseQueue: {
      type: "boolean",
      description: "also pause the queue until the job is due again (the other side said slow down)",
    },
    pauseGroup: {
      type: "boolean",
      description:
        "also pause the job's group until the job is due again (the other side said slow down to this group)",
    },
  },
} as const;

/**
 * Batches of claimed jobs settled in one call: at most MAX_BATCH_ITEMS (as many as one claim
 * hands out), each item naming its job and lease token; options common to the batch sit beside
 * `jobs`. Each item is answered on its own (batchResultsSchema).
 */
export const MAX_BATCH_ITEMS = 1000;

function batchBody(
  item: Record<string, unknown>,
  required: string[],
  common: Record<string, unknown> = {},
  commonRequired: string[] = [],
) {
  return {
    type: "object",
    required: ["jobs", ...commonRequired],
    additionalProperties: false,
    properties: {
      jobs: {
        type: "array",
        minItems: 1,
        maxItems: MAX_BATCH_ITEMS,
        items: {
          type: "object",
          required: ["id", "leaseToken", ...required],
          additionalProperties: false,
          properties: { id: jobId, leaseToken, ...item },
        },
      },
      ...common,
    },
  } as const;
}

export const completeManyBody = batchBody({ result: anyJson }, []);
export const failManyBody = batchBody({ error: failBody.properties.error }, ["error"]);
export const extendManyBody = batchBody({}, [], { lease: duration }, ["lease"]);
export const releaseManyBody = batchBody({}, [], {
  delay: duration,
  pauseQueue: releaseBody.properties.pauseQueue,
  pauseGroup: {
    type: "boolean",
    description: "also pause each released job's group until it is due again (the other side said slow down)",
  },
});

/** One answer per item, in the order sent: `ok: true` (with what the single route would add) or the error it met. */
export function batchResultsSchema(extra: Record<string, unknown> = {}) {
  return {
    type: "object",
    required: ["results"],
    properties: {
      results: {
        type: "array",
        items: {
          type: "object",
          required: ["id"],
          properties: {
            id: { type: "string" },
            ok: { type: "boolean", enum: [true] },
            ...extra,
            error: errorSchema.properties.error,
          },
        },
      },
    },
  } as const;
}

export const pushBody = {
  type: "object",
  required: ["url"],
  additionalProperties: false,
  properties: {
    url: { type: "string", minLength: 1, maxLength: 2048 },
    timeout: { ...duration, default: "10s" },
    concurrency: { type: "integer", minimum: 1, maximum: 1000, default: 10 },
    secret: { type: "string", minLength: 16, maxLength: 512 },
  },
} as const;

// --- responses ---------------------------------------------------------------------------

const rateLimitSchema = {
  type: ["object", "null"],
  properties: { rate: { type: "integer" }, perMs: { type: "integer" } },
  description: "at most `rate` starts per `perMs`; null without a limit",
} as const;

export const groupLimitsSchema = {
  type: ["object", "null"],
  properties: {
    concurrency: { type: ["integer", "null"], description: "a group's jobs active at once at most; null: no cap" },
    limit: { ...rateLimitSchema, description: "each group's starts: at most `rate` per `perMs`; null: none" },
  },
  description: "limits for groups; null when none are set",
} as const;

export const flowSchema = {
  type: "object",
  required: ["limit", "pausedUntil", "tokens"],
  properties: {
    limit: rateLimitSchema,
    pausedUntil: { type: ["integer", "null"], description: "epoch ms the pause ends; null when not paused" },
    tokens: { type: ["integer", "null"], description: "starts the bucket allows now; null without a limit" },
    groupLimits: { ...groupLimitsSchema, description: "the queue's default limits for each group; null: none" },
  },
} as const;

export const groupLimitsAnswer = {
  type: "object",
  required: ["groupLimits"],
  properties: { groupLimits: flowSchema.properties.groupLimits },
} as const;

export const groupStateSchema = {
  type: "object",
  required: ["group", "limits", "ownLimits", "active", "scheduled", "pausedUntil", "tokens"],
  properties: {
    group: { type: "string" },
    limits: {
      ...groupLimitsSchema,
      type: "object",
      description: "the limits in force: the group's own, else the queue's default (nulls: none)",
    },
    ownLimits: { type: "boolean", description: "true when `limits` are the group's own" },
    active: { type: "integer", description: "the group's jobs active now" },
    scheduled: { type: "integer", description: "the group's jobs waiting (due or not)" },
    pausedUntil: { type: ["integer", "null"], description: "epoch ms the group's pause ends; null when not paused" },
    tokens: { type: ["integer", "null"], description: "starts the group's bucket allows now; null without a rate" },
  },
} as const;

export const busiestGroupsSchema = {
  type: "object",
  required: ["groups", "activeGroups"],
  properties: {
    groups: { type: "array", items: groupStateSchema, description: "most active first (ties: by name)" },
    activeGroups: { type: "integer", description: "how many of the queue's groups have an active job" },
  },
} as const;

export const jobSchema = {
  type: "object",
  required: ["id", "queue", "key", "payload", "state", "runAt", "attempts", "maxAttempts", "errors", "result"],
  properties: {
    id: { type: "string" },
    queue: { type: "string" },
    key: { type: ["string", "null"] },
    payload: anyJson,
    state: { type: "string", enum: JOB_STATES },
    runAt: instant,
    attempts: { type: "integer" },
    maxAttempts: { type: "integer" },
    priority: { type: "integer" },
    group: { type: ["string", "null"], description: "the job's group; null when it has none" },
    errors: {
      type: "array",
      items: {
        type: "object",
        properties: { attempt: { type: "integer" }, at: instant, message: { type: "string" } },
      },
    },
    result: anyJson,
    leaseExpiresAt: { type: ["integer", "null"], description: "while active: when the holder's lease runs out" },
    createdAt: instant,
    updatedAt: instant,
  },
} as const;

export const addedJobSchema = {
  ...jobSchema,
  properties: { ...jobSchema.properties, outcome: { type: "string", enum: ["created", "existing", "replaced"] } },
} as const;

export const claimedJobSchema = {
  ...jobSchema,
  properties: { ...jobSchema.properties, leaseToken: { type: "string" }, leaseExpiresAt: instant },
} as const;

export const countsSchema = {
  type: "object",
  properties: Object.fromEntries(JOB_STATES.map((s) => [s, { type: "integer" }])),
} as const;

export const pageSchema = {
  type: "object",
  properties: { jobs: { type: "array", items: jobSchema }, next: { type: ["string", "null"] } },
} as const;

export const pushSchema = {
  type: "object",
  properties: {
    queue: { type: "string" },
    url: { type: "string" },
    timeoutMs: { type: "integer" },
    concurrency: { type: "integer" },
    secret: { type: "string" },
  },
} as const;

export const errorSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        details: { type: "object", additionalProperties: true },
      },
    },
  },
} as const;

/** Error responses every route may give; listed so the OpenAPI document shows them. */
export const errorResponses = {
  "4xx": errorSchema,
  "5xx": errorSchema,
} as const;

import fc from "fast-check";

/**
 * Request generators for the HTTP fuzz test, driven by the server's own OpenAPI document: every
 * route, every path/query parameter and body field gets values of the right shape, of the
 * wrong shape, and hostile ones (huge and negative numbers, deep nesting, NUL, lone
 * surrogates, long names, bad percent-encodings).
 *
 * Every hostile value carries a category, so a category the library does not handle yet can be
 * set aside by name (PENDING_LIBRARY_FIXES in fuzz.test.ts) instead of deleting its generator.
 */

export type Category =
  | "nul"
  | "lone-surrogate"
  | "huge-instant"
  | "deep-duration"
  | "empty-or-dot-name"
  | "non-json-number"
  | "duplicate-ids"
  | "deep-payload";

/** A generated value, and the hostile categories that went into it. */
interface Tagged<T> {
  value: T;
  tags: Category[];
}

/** A reference resolved when the request is sent: an id or lease token the server handed out earlier. */
export interface PoolRef {
  pool: "id" | "leaseToken" | "key";
  index: number;
}

export type Value = unknown;

export interface GeneratedRequest {
  method: string;
  /** Path with {param} placeholders, from the OpenAPI document. */
  route: string;
  /** Raw path segments (already percent-encoded, possibly badly) or references to fill in. */
  params: Record<string, string | PoolRef>;
  /** Raw query string without "?" (already encoded, possibly badly). */
  query: string;
  /** Body text to send, or undefined for none. */
  body: string | undefined;
  contentType: string | undefined;
  /** Send over a real socket rather than app.inject. */
  overHttp: boolean;
  tags: Category[];
}

interface OpenApiParameter {
  in: "path" | "query";
  name: string;
  schema?: JsonSchema;
}

export interface JsonSchema {
  /** One type, or several ("string or null"). */
  type?: string | string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

export interface Operation {
  method: string;
  route: string;
  parameters: OpenApiParameter[];
  body: JsonSchema | undefined;
}

/** Every operation of the document, with what it takes. */
export function operationsOf(document: {
  paths: Record<
    string,
    Record<
      string,
      { parameters?: OpenApiParameter[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }
    >
  >;
}): Operation[] {
  const operations: Operation[] = [];
  for (const [route, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      operations.push({
        method: method.toUpperCase(),
        route,
        parameters: operation.parameters ?? [],
        body: operation.requestBody?.content?.["application/json"]?.schema,
      });
    }
  }
  return operations;
}

const plain = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<Tagged<T>> =>
  arbitrary.map((value) => ({ value, tags: [] }));
const tagged = <T>(category: Category, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<Tagged<T>> =>
  arbitrary.map((value) => ({ value, tags: [category] }));

const LONE_SURROGATES = ["\uD800", "\uDBFF", "\uDC00", "\uDFFF", "a\uD83D", "\uDE00b"];

/** Text that stores and JSON find awkward. */
const hostileText: fc.Arbitrary<Tagged<string>> = fc.oneof(
  plain(fc.string({ maxLength: 20 })),
  plain(fc.string({ unit: "binary", maxLength: 20 })),
  plain(fc.constantFrom("", " ", "\t", "\n", "../..", "%", "%FF", "__proto__", "constructor", "é", "😀", "\u202E")),
  plain(fc.integer({ min: 129, max: 20_000 }).map((n) => "n".repeat(n))),
  { weight: 2, arbitrary: tagged("nul", fc.constantFrom("\u0000", "a\u0000b", "\u0000".repeat(3))) },
  { weight: 2, arbitrary: tagged("lone-surrogate", fc.constantFrom(...LONE_SURROGATES)) },
  tagged("empty-or-dot-name", fc.constantFrom("", ".", "..")),
);

const hostileNumber: fc.Arbitrary<Tagged<number>> = fc
  .oneof(
    plain(fc.integer()),
    plain(fc.double({ noNaN: true, noDefaultInfinity: true })),
    plain(fc.constantFrom(-1, 0, -0, 0.5, 1.5, -1e20, 2 ** 53 + 2, Number.MIN_SAFE_INTEGER, 1e308, -1e308)),
    plain(fc.constantFrom(1e20, Number.MAX_SAFE_INTEGER, 8.64e15 + 1)),
  )
  // Beyond the instants a Date can hold: as a runAt, the library accepts it (pending).
  .map((n) => (Math.abs(n.value) > 8.64e15 ? { value: n.value, tags: [...n.tags, "huge-instant" as const] } : n));

/**
 * A value nested `depth` deep, [[[…"1s"…]]] or {"a":{"a":…}}: generated as a marker and written
 * out as text by `serialize`, as JSON.stringify itself would overflow the stack on it.
 */
function nested(depth: number, _leaf: "1s", asObject: boolean): string {
  return `@deep:${depth}:${asObject ? "o" : "a"}`;
}

function serialize(value: unknown): string {
  return JSON.stringify(value).replace(/"@deep:(\d+):([ao])"/g, (_, depth: string, kind: string) => {
    const n = Number(depth);
    return kind === "a" ? `${"[".repeat(n)}"1s"${"]".repeat(n)}` : `${'{"a":'.repeat(n)}"1s"${"}".repeat(n)}`;
  });
}

const deepValue: fc.Arbitrary<Tagged<unknown>> = fc
  .tuple(fc.integer({ min: 50, max: 20_000 }), fc.boolean())
  .map(([depth, asObject]) => ({ value: nested(depth, "1s", asObject), tags: ["deep-payload"] }));

/** Any JSON value, of any type, with hostile leaves. */
const anyValue: fc.Arbitrary<Tagged<unknown>> = fc.letrec<{ value: Tagged<unknown> }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    plain(fc.constantFrom(null, true, false)),
    hostileNumber,
    hostileText,
    fc
      .array(tie("value"), { maxLength: 3 })
      .map((items) => ({ value: items.map((i) => i.value), tags: items.flatMap((i) => i.tags) })),
    fc.array(fc.tuple(hostileText, tie("value")), { maxLength: 3 }).map((entries) => ({
      value: Object.fromEntries(entries.map(([k, v]) => [k.value, v.value])),
      tags: entries.flatMap(([k, v]) => [...k.tags, ...v.tags]),
    })),
  ),
})).value;

const durationLike: fc.Arbitrary<Tagged<unknown>> = fc.oneof(
  plain(fc.constantFrom(0, 1, 10, 250, "10ms", "1s", "30s", "15m", "2h", "7d", "1h30m", "1.5s")),
  plain(fc.constantFrom("", "-1s", "1x", "1e3", "Infinity", "NaN", " 1s ", "1s1s", "999999999w", "0.0000001ms")),
  hostileNumber,
  hostileText,
  // Deep nesting where a duration goes (a back-off list, a schedule): the library's recursion.
  tagged(
    "deep-duration",
    fc.integer({ min: 2_000, max: 20_000 }).map((depth) => nested(depth, "1s", false)),
  ),
);

/**
 * An instant from a minute ago to a day ahead, as "@now:<offset>": the sender writes the number
 * when it sends, so a seed replays the same requests at any time.
 */
const nearNow = fc.integer({ min: -60_000, max: 86_400_000 }).map((offset) => `@now:${offset}`);

/** Ids of a dead-letter selection: one id twice, or several (a selection is a set). */
const selection = fc.oneof(
  fc.nat().map((n) => [`@id:${n}`, `@id:${n}`]),
  fc.array(
    fc.nat().map((n) => `@id:${n}`),
    { minLength: 1, maxLength: 3 },
  ),
);

/** Groups the generated jobs and group routes name, so that limits, pauses and claims meet. */
const GROUPS = ["g1", "g2", "merchant-7"] as const;

/** Values for fields whose name says what they are; anything else follows its schema. */
function namedField(name: string): fc.Arbitrary<Tagged<unknown>> | null {
  switch (name) {
    case "url":
    case "probeUrl":
    case "callbackUrl":
      // Never a reachable address: the server POSTs to these.
      return fc.oneof(
        plain(fc.constant("http://127.0.0.1:9/hook")),
        plain(fc.constantFrom("not a url", "ftp://127.0.0.1/x", "http://", "javascript:alert(1)", "")),
        hostileText,
      );
    case "delay":
    case "lease":
    case "wait":
    case "timeout":
    case "deadline":
    case "backoff":
    case "schedule":
    case "outcomeBackoff":
      return fc.oneof(
        { weight: 2, arbitrary: durationLike },
        // Deep nesting where a duration goes (a back-off list, a schedule): the library's recursion.
        {
          weight: 2,
          arbitrary: tagged(
            "deep-duration",
            fc.integer({ min: 2_000, max: 20_000 }).map((depth) => nested(depth, "1s", false)),
          ),
        },
        fc.array(durationLike, { maxLength: 4 }).map((items) => ({
          value: items.map((i) => i.value),
          tags: items.flatMap((i) => i.tags),
        })),
        fc.record({ every: durationLike, times: hostileNumber }).map((r) => ({
          value: { every: r.every.value, times: r.times.value },
          tags: [...r.every.tags, ...r.times.tags],
        })),
        fc
          .record({
            type: plain(fc.constantFrom("exponential", "fixed", "x")),
            delay: durationLike,
            max: durationLike,
            factor: hostileNumber,
            jitter: hostileNumber,
          })
          .map((r) => ({
            value: {
              type: r.type.value,
              delay: r.delay.value,
              max: r.max.value,
              factor: r.factor.value,
              jitter: r.jitter.value,
            },
            tags: [...r.delay.tags, ...r.max.tags, ...r.factor.tags, ...r.jitter.tags],
          })),
      );
    case "runAt":
      return fc.oneof(
        plain(nearNow),
        hostileNumber,
        tagged("huge-instant", fc.constantFrom(1e20, 8.64e15 + 1)),
        plain(fc.constantFrom("2026-01-01T00:00:00Z", "tomorrow")),
      );
    case "payload":
    case "result":
    case "input":
      return fc.oneof(anyValue, deepValue);
    // "@pool:n" is replaced, when the request is sent, by the n-th value of that kind seen so far.
    case "key":
      // Keys end up in every store's indexes: awkward text is sent as often as usable keys.
      return fc.oneof(
        plain(fc.constantFrom("k1", "k2", "k3")),
        plain(fc.nat().map((n) => `@key:${n}`)),
        hostileText,
        hostileText,
      );
    case "leaseToken":
      return fc.oneof(
        { weight: 3, arbitrary: plain(fc.nat().map((n) => `@leaseToken:${n}`)) },
        { weight: 1, arbitrary: hostileText },
      );
    // A batch item's job: "@leasedId" becomes the job whose lease the item's leaseToken names.
    case "id":
      return fc.oneof(
        { weight: 3, arbitrary: plain(fc.constant("@leasedId")) },
        { weight: 1, arbitrary: plain(fc.nat().map((n) => `@id:${n}`)) },
        { weight: 1, arbitrary: hostileText },
      );
    case "ids":
      return plain(selection);
    case "ids[]":
      return fc.oneof(
        { weight: 3, arbitrary: plain(fc.nat().map((n) => `@id:${n}`)) },
        { weight: 1, arbitrary: hostileText },
      );
    case "group":
      // Empty, over-long, control characters: the library's rule for a group, all of it.
      return fc.oneof(
        { weight: 2, arbitrary: plain(fc.constantFrom(...GROUPS, null)) },
        { weight: 2, arbitrary: hostileText },
      );
    case "concurrency":
      return fc.oneof(plain(fc.constantFrom(0, -1, 1.5, 1, 2, 1000, 1_000_001, null)), hostileNumber);
    default:
      return null;
  }
}

function fromSchema(schema: JsonSchema | undefined, name: string, depth = 0): fc.Arbitrary<Tagged<unknown>> {
  const named = namedField(name);
  if (named) return fc.oneof({ weight: 4, arbitrary: named }, { weight: 1, arbitrary: anyValue });
  if (!schema || depth > 3) return anyValue;
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => fromSchema(s, name, depth + 1)), anyValue);
  if (schema.enum) return fc.oneof({ weight: 4, arbitrary: plain(fc.constantFrom(...schema.enum)) }, anyValue);
  switch (schema.type) {
    case "integer":
    case "number":
      return fc.oneof(
        {
          weight: 3,
          arbitrary: plain(fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 100, 100) })),
        },
        { weight: 2, arbitrary: hostileNumber },
        { weight: 1, arbitrary: anyValue },
      );
    case "string":
      return fc.oneof(
        {
          weight: 3,
          arbitrary: plain(
            fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.max(12, schema.minLength ?? 0) }),
          ),
        },
        { weight: 2, arbitrary: hostileText },
        { weight: 1, arbitrary: anyValue },
      );
    case "boolean":
      return fc.oneof(plain(fc.boolean()), anyValue);
    case "array":
      return fc.oneof(
        {
          weight: 3,
          arbitrary: fc
            .array(fromSchema(schema.items, `${name}[]`, depth + 1), { minLength: 0, maxLength: 4 })
            .map((items) => ({ value: items.map((i) => i.value), tags: items.flatMap((i) => i.tags) })),
        },
        { weight: 1, arbitrary: anyValue },
      );
    case "object":
      return objectFrom(schema, depth);
    default:
      return anyValue;
  }
}

/** An object with most required fields, some optional ones, now and then an unknown one. */
function objectFrom(schema: JsonSchema, depth: number): fc.Arbitrary<Tagged<unknown>> {
  const fields = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  const entries = fields.map(([field, fieldSchema]) =>
    fc.tuple(fc.constant(field), fc.integer({ min: 0, max: 9 }), fromSchema(fieldSchema, field, depth + 1)),
  );
  return fc
    .tuple(fc.tuple(...entries), fc.option(fc.tuple(hostileText, anyValue), { freq: 8 }))
    .map(([picked, extra]) => {
      const value: Record<string, unknown> = {};
      const tags: Category[] = [];
      for (const [field, roll, generated] of picked) {
        // Required fields are nearly always there, optional ones about half the time.
        if (roll < (required.has(field) ? 9 : 5)) {
          value[field] = generated.value;
          tags.push(...generated.tags);
        }
      }
      if (extra) {
        value[extra[0].value] = extra[1].value;
        tags.push(...extra[0].tags, ...extra[1].tags);
      }
      return { value, tags };
    });
}

/** Values that follow the schema and the field's meaning: requests that get through, to reach the store. */
function validValue(name: string): fc.Arbitrary<unknown> | null {
  switch (name) {
    case "url":
    case "probeUrl":
    case "callbackUrl":
      return fc.constant("http://127.0.0.1:9/hook");
    case "delay":
    case "lease":
    case "wait":
    case "timeout":
    case "deadline":
    case "backoff":
    case "outcomeBackoff":
      return fc.constantFrom(0, 10, "10ms", "1s", "30s", "1h");
    case "schedule":
      return fc.constantFrom(["1s", "10s"], { every: "1s", times: 2 });
    case "runAt":
      return nearNow;
    case "payload":
    case "result":
    case "input":
      return fc.jsonValue({ maxDepth: 2 });
    case "key":
      return fc.oneof(
        fc.constantFrom("k1", "k2", "k3"),
        fc.nat().map((n) => `@key:${n}`),
      );
    case "leaseToken":
      return fc.nat().map((n) => `@leaseToken:${n}`);
    case "id":
      return fc.constant("@leasedId");
    case "ids":
      return selection;
    case "ids[]":
      return fc.nat().map((n) => `@id:${n}`);
    case "group":
      return fc.constantFrom(...GROUPS, null);
    case "secret":
      return fc.constant("a-push-secret-of-16+");
    default:
      return null;
  }
}

function validFromSchema(schema: JsonSchema | undefined, name: string): fc.Arbitrary<unknown> {
  const named = validValue(name);
  if (named) return named;
  if (!schema) return fc.jsonValue({ maxDepth: 1 });
  if (schema.anyOf) return validFromSchema(schema.anyOf[0], name);
  // "object or null" and the like: the first type is the one that does something.
  if (Array.isArray(schema.type)) return validFromSchema({ ...schema, type: schema.type[0] }, name);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case "integer":
    case "number":
      return fc.integer({ min: schema.minimum ?? 1, max: Math.min(schema.maximum ?? 5, 5) });
    case "string":
      return fc.string({ minLength: Math.max(1, schema.minLength ?? 1), maxLength: 8 });
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(validFromSchema(schema.items, `${name}[]`), { minLength: 1, maxLength: 3 });
    case "object": {
      const required = new Set(schema.required ?? []);
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [field, fieldSchema] of Object.entries(schema.properties ?? {})) {
        model[field] = validFromSchema(fieldSchema, field);
      }
      // At most one of two exclusive fields (delay/runAt, ids/all) most of the time.
      return fc.record(model, { requiredKeys: [...required] }).map((value) => {
        const record = value as Record<string, unknown>;
        if ("runAt" in record && "delay" in record) delete record.runAt;
        if ("ids" in record && "all" in record) delete record.all;
        // A grouped job has priority 0: a valid job names one or the other.
        if (typeof record.group === "string" && "priority" in record) delete record.priority;
        return record;
      });
    }
    default:
      return fc.jsonValue({ maxDepth: 1 });
  }
}

const EXCLUSIVE: Record<string, string> = { runAt: "delay", delay: "runAt", ids: "all", all: "ids" };

/** A valid body but for one field: reaches the code behind the schema with that one bad value. */
function oneFieldWrong(schema: JsonSchema): fc.Arbitrary<Tagged<string>> {
  const fields = Object.keys(schema.properties ?? {});
  if (fields.length === 0) return plain(validFromSchema(schema, "").map((value) => JSON.stringify(value)));
  return fc
    .constantFrom(...fields)
    .chain((field) =>
      fc.tuple(validFromSchema(schema, ""), fc.constant(field), fromSchema(schema.properties![field], field)),
    )
    .map(([valid, field, wrong]) => {
      const body: Record<string, unknown> = { ...(valid as Record<string, unknown>), [field]: wrong.value };
      // Only the one field is wrong: drop the field it excludes.
      const excluded = EXCLUSIVE[field];
      if (excluded) delete body[excluded];
      return { value: serialize(body), tags: wrong.tags };
    });
}

/** Text for a path segment or query value: well encoded, raw, or badly encoded. */
const BAD_ENCODINGS = ["%FF", "%", "%E0%A4%A", "%G0", "%ED%A0%80", "%C0%AF", "a%2", "%F0%9F%98"];

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function encodeSegment(text: string): string {
  // encodeURIComponent throws on a lone surrogate; send the bytes a careless client would.
  return encodeURIComponent(text.replace(LONE_SURROGATE, "\uFFFD")).replace(/%EF%BF%BD/g, "%ED%A0%80");
}

const segmentText = (valid: fc.Arbitrary<string>): fc.Arbitrary<Tagged<string>> =>
  fc
    .oneof(
      { weight: 12, arbitrary: plain(valid.map(encodeSegment)) },
      { weight: 3, arbitrary: hostileText.map((t) => ({ value: encodeSegment(t.value), tags: t.tags })) },
      { weight: 1, arbitrary: plain(fc.constantFrom(...BAD_ENCODINGS)) },
      { weight: 1, arbitrary: tagged("nul", fc.constant("%00")) },
      { weight: 1, arbitrary: plain(fc.integer({ min: 1_000, max: 3_000 }).map((n) => "x".repeat(n))) },
    )
    .map((segment) =>
      // An empty or dot segment reaches the route as an empty name, whatever text made it.
      /^(|\.|\.\.|%2E|%2E%2E|\.%2E|%2E\.)$/i.test(segment.value)
        ? { value: segment.value, tags: [...segment.tags, "empty-or-dot-name"] }
        : segment,
    );

function pathParam(name: string, queues: readonly string[]): fc.Arbitrary<Tagged<string | PoolRef>> {
  switch (name) {
    case "queue":
      return segmentText(fc.constantFrom(...queues));
    case "id":
      return fc.oneof(
        { weight: 5, arbitrary: plain(fc.nat().map((index): PoolRef => ({ pool: "id", index }))) },
        {
          weight: 2,
          arbitrary: segmentText(fc.constantFrom("1", "0", "-1", "99999999999999999999", "1e3", "0x10", "abc")),
        },
      );
    case "key":
      return fc.oneof(
        { weight: 4, arbitrary: plain(fc.nat().map((index): PoolRef => ({ pool: "key", index }))) },
        { weight: 3, arbitrary: segmentText(fc.constantFrom("k1", "k2", "k3")) },
      );
    case "group":
      return segmentText(fc.constantFrom(...GROUPS));
    default:
      return segmentText(fc.constantFrom("chk-a", "chk-b"));
  }
}

function queryOf(parameters: OpenApiParameter[]): fc.Arbitrary<Tagged<string>> {
  const query = parameters.filter((p) => p.in === "query");
  const pairs = query.map((p) =>
    fc.option(
      fc.tuple(
        fc.constant(p.name),
        fc.oneof(
          {
            weight: 4,
            arbitrary: fromSchema(p.schema, p.name).map((t) => ({
              value: typeof t.value === "object" ? JSON.stringify(t.value) : String(t.value),
              tags: t.tags,
            })),
          },
          { weight: 1, arbitrary: plain(fc.constant("")) },
        ),
      ),
      { freq: 2 },
    ),
  );
  return fc
    .tuple(
      fc.tuple(...pairs),
      fc.option(plain(fc.constantFrom(...BAD_ENCODINGS, "a=%FF", "&&", "state[]=x", "limit=1&limit=2"))),
    )
    .map(([chosen, bad]) => {
      const parts: string[] = [];
      const tags: Category[] = [];
      for (const pair of chosen) {
        if (!pair) continue;
        parts.push(`${pair[0]}=${encodeSegment(pair[1].value)}`);
        tags.push(...pair[1].tags);
      }
      if (bad) parts.push(bad.value);
      return { value: parts.join("&"), tags };
    });
}

/** Body text that is not a JSON document of the schema's shape at all. */
const rawBody: fc.Arbitrary<Tagged<string>> = fc.oneof(
  plain(fc.constantFrom("{", "[", "", "null", "[]", '"text"', "1", '{"a":1,}', "{'a':1}", '{"__proto__":{"x":1}}')),
  tagged("non-json-number", fc.constantFrom('{"payload":1e400}', '{"payload":-1e400}', '{"payload":[1e999]}')),
  plain(fc.integer({ min: 1_000, max: 200_000 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`)),
  plain(fc.string({ unit: "binary", maxLength: 40 })),
);

/**
 * Categories read from the text actually sent, whichever generator made it: any string may
 * happen to hold a NUL (%00 in a path, \u0000 in JSON) or a lone surrogate (JSON escapes
 * those as \udXXX; paired ones it writes as they are).
 */
function contentTags(parts: unknown[]): Category[] {
  const text = parts.filter((p): p is string => typeof p === "string").join("\n");
  const tags: Category[] = [];
  if (/%00|\\u0000/i.test(text)) tags.push("nul");
  if (/\\ud[89a-f][0-9a-f]{2}/i.test(text)) tags.push("lone-surrogate");
  return tags;
}

/** Two or more handed-out ids in one selection may name the same job twice ({"ids":["7","7"]}). */
function selectionTags(body: string | undefined): Category[] {
  return (body?.match(/"@id:\d+"/g)?.length ?? 0) >= 2 ? ["duplicate-ids"] : [];
}

export function requestFor(operation: Operation, queues: readonly string[]): fc.Arbitrary<GeneratedRequest> {
  const pathNames = operation.parameters.filter((p) => p.in === "path").map((p) => p.name);
  const params = fc.tuple(...pathNames.map((name) => pathParam(name, queues)));
  const body: fc.Arbitrary<Tagged<string | undefined>> = operation.body
    ? fc.oneof(
        {
          weight: 6,
          arbitrary: fromSchema(operation.body, "").map((t) => ({ value: serialize(t.value), tags: t.tags })),
        },
        { weight: 6, arbitrary: plain(validFromSchema(operation.body, "").map((value) => JSON.stringify(value))) },
        { weight: 10, arbitrary: oneFieldWrong(operation.body) },
        { weight: 2, arbitrary: rawBody },
        { weight: 1, arbitrary: plain(fc.constant(undefined)) },
      )
    : fc.oneof({ weight: 6, arbitrary: plain(fc.constant(undefined)) }, { weight: 1, arbitrary: rawBody });
  const contentType = fc.oneof(
    { weight: 12, arbitrary: fc.constant("application/json") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
        "",
      ),
    },
  );
  return fc
    .tuple(params, queryOf(operation.parameters), body, contentType, fc.integer({ min: 0, max: 9 }))
    .map(([values, query, generated, type, roll]) => ({
      method: operation.method,
      route: operation.route,
      params: Object.fromEntries(pathNames.map((name, i) => [name, values[i]!.value])),
      query: query.value,
      body: generated.value,
      contentType: generated.value === undefined ? undefined : type,
      // One request in ten goes over a real socket: what inject cannot express (raw bytes on the wire).
      overHttp: roll === 0,
      tags: [
        ...values.flatMap((v) => v.tags),
        ...query.tags,
        ...generated.tags,
        ...selectionTags(generated.value),
        ...contentTags([...values.map((v) => v.value), query.value, generated.value]),
      ],
    }));
}

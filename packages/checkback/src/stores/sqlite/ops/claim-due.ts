import { randomBytes } from "node:crypto";
import type { JobRecord } from "../../../core/job.js";
import { claimRank, PRIORITY_LEVELS } from "../../../flow/priority.js";
import { allowedStarts, charge, limitedNextDue } from "../../../flow/rate-limit.js";
import type { ClaimOptions, ClaimResult } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, toRecord } from "../rows.js";
import { readBucket, saveBucket } from "./flow.js";
import { changeGroup, loadGroup, type ReadyPlace, sweepIdleGroups } from "./groups.js";

/**
 * claimDue: hands out up to `limit` due jobs under fresh leases, in one IMMEDIATE transaction.
 *
 * Mode: one range read of jobs_due — `(queue, due_at ≤ now)` in (due_at, id) order, which is
 * due-instant order with FIFO among equal instants — then one primary-key update per row. The
 * claimed record is the row read plus the changes this update makes, built in JavaScript: a
 * RETURNING clause would cost a third more per job for data we already hold. The
 * write lock is held from the read to the commit, so two connections (or processes) can never
 * hand out the same job: the second claim starts after the first committed and no longer sees
 * those rows as due (their due_at is now their lease expiry). No SKIP LOCKED is needed because
 * SQLite has one writer at a time; a batch claim is what keeps that lock short per job.
 *
 * A row that is active when claimed is one whose lease ran out (its holder died or stalled):
 * that attempt is recorded as a "lease expired" error, appended by SQLite's JSON functions so
 * no error history is parsed here. If it has used all its attempts it goes dead instead and
 * does not count against `limit`, so the read repeats until `limit` jobs are claimed or none
 * are due.
 *
 * The next due instant left (for the worker's sleep) is read in the same transaction: the
 * head of jobs_due, one index seek.
 *
 * Rate limits (flow/rate-limit.ts): the queue's queue_flow row, if any, is read first; the claim
 * takes no more than the bucket allows and charges what it started, in this transaction.
 *
 * Priorities (flow/priority.ts): when the queue holds an unfinished job with a priority other
 * than 0 (one seek in the partial index jobs_due_ranked tells), the due rows are read per level
 * instead — priority 0 from jobs_due, each other level from jobs_due_ranked, each up to the
 * number wanted — and merged by claim rank. Without such a job the read is the plain one above.
 *
 * Groups (flow/groups.ts, ops/groups.ts): a grouped job waits outside jobs_due, in its group;
 * the groups that are ready are the rows of job_groups_ready, in turn order (readyAt, turn,
 * name). One statement first asks for the earliest readyAt and whether rows of idle groups
 * wait to be swept (two seeks, both empty for a queue without groups, which is then claimed as
 * above). When a group is ready by now, the ready groups (up to the number wanted) are read and
 * merged with the ordinary due rows by one number, claim rank against readyAt (ties: the
 * ordinary row first, rule 3). Taking a group's turn claims its head (one seek in
 * jobs_group_waiting), numbers the serve from the queue's count (queue_groups.turns, read once
 * and saved once per claim) and charges the group (ops/groups.ts); a group ready again at once
 * (readyAt = now, the latest turn) goes behind every group already waiting: one job per group
 * per pass, round-robin. Every group read is ready, so each yields a job, and the groups read
 * are enough for the number wanted. An active grouped job whose lease ran out comes through
 * jobs_due like any other (rule 5): reclaimed, it keeps its group's count and is not charged to
 * its group; gone dead, it frees its group's place, and a group ready by now at that takes its
 * turn in this claim, in its place.
 */
const SELECT_DUE = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND due_at IS NOT NULL AND due_at <= ?
  ORDER BY due_at, id
  LIMIT ?`;

const CLAIM = `
  UPDATE jobs SET state = 'active', attempts = attempts + 1, lease_token = ?, lease_expires_at = ?,
                  due_at = ?, updated_at = ?, run_at = min(run_at, ?)
  WHERE id = ?`;

const RECLAIM_EXPIRED = `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', 'lease expired')),
                  attempts = attempts + 1, lease_token = ?, lease_expires_at = ?, due_at = ?, updated_at = ?
  WHERE id = ?
  RETURNING ${JOB_COLUMNS}`;

const EXPIRE_TO_DEAD = `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', 'lease expired')),
                  state = 'dead', lease_token = NULL, lease_expires_at = NULL, due_at = NULL, updated_at = ?
  WHERE id = ?`;

const ANY_RANKED = `
  SELECT 1 FROM jobs WHERE queue = ? AND due_at IS NOT NULL AND priority <> 0 LIMIT 1`;

const SELECT_DUE_LEVEL_0 = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND due_at IS NOT NULL AND due_at <= ? AND priority = 0
  ORDER BY due_at, id
  LIMIT ?`;

const SELECT_DUE_LEVEL = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND priority = ? AND due_at IS NOT NULL AND priority <> 0 AND due_at <= ?
  ORDER BY due_at, id
  LIMIT ?`;

const SELECT_NEXT_DUE = `
  SELECT due_at FROM jobs WHERE queue = ? AND due_at IS NOT NULL ORDER BY due_at, id LIMIT 1`;

const SELECT_FIRST_READY = `
  SELECT ready_at FROM job_groups WHERE queue = ? AND ready_at IS NOT NULL ORDER BY ready_at LIMIT 1`;

/** What a claim asks of the queue's groups first, in one statement: two seeks, empty for a queue without groups. */
const PROBE_GROUPS = `
  SELECT (SELECT ready_at FROM job_groups WHERE queue = ? AND ready_at IS NOT NULL ORDER BY ready_at LIMIT 1) AS first_ready,
         EXISTS (SELECT 1 FROM job_groups WHERE queue = ? AND idle_at <= ?) AS idle
`;

const SELECT_READY_GROUPS = `
  SELECT name, ready_at AS at, ready_turn AS turn FROM job_groups
  WHERE queue = ? AND ready_at <= ?
  ORDER BY ready_at, ready_turn, name
  LIMIT ?`;

const SELECT_TURNS = "SELECT turns FROM queue_groups WHERE queue = ?";

const SAVE_TURNS = `
  INSERT INTO queue_groups (queue, defaulted, turns) VALUES (?, 0, ?)
  ON CONFLICT (queue) DO UPDATE SET turns = excluded.turns`;

const SELECT_GROUP_HEAD = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND group_name = ? AND state = 'scheduled'
  ORDER BY run_at, id
  LIMIT 1`;

/** The most rows of idle groups a claim sweeps before it claims (ops/groups.ts). */
const SWEEP_LIMIT = 1_000;

/** Runs inside a write transaction. */
export function claimDue(
  ctx: SqliteContext,
  queue: string,
  { limit, leaseMs }: ClaimOptions,
  now: number,
): ClaimResult {
  const jobs: JobRecord[] = [];
  const leaseExpiresAt = now + leaseMs;
  const selectDue = ctx.statement<JobRow>(SELECT_DUE);
  const claim = ctx.statement(CLAIM);
  const ranked = ctx.statement(ANY_RANKED).get(queue) !== undefined;
  const bucket = readBucket(ctx, queue);
  const allowed = bucket ? allowedStarts(bucket, now, limit) : limit;
  const tokens = new LeaseTokens();
  const probe = ctx.statement<{ first_ready: number | null; idle: number }>(PROBE_GROUPS).get(queue, queue, now)!;
  // Rows of idle groups hold no job, so sweeping them leaves the ready index as it was.
  if (probe.idle) sweepIdleGroups(ctx, queue, now, SWEEP_LIMIT);
  let firstReady = probe.first_ready;
  let groupsChanged = false;
  const turns = new Turns(
    firstReady !== null && firstReady <= now && allowed > 0
      ? ctx.statement<Turn>(SELECT_READY_GROUPS).all(queue, now, allowed)
      : [],
  );
  let due: JobRow[] = [];
  let dueAt = 0;
  let moreDue = true;
  /** The queue's count of serves, read at the first serve and saved once at the end. */
  let served: number | null = null;
  const nextTurn = () => {
    served = (served ?? ctx.statement<{ turns: number }>(SELECT_TURNS).get(queue)?.turns ?? 0) + 1;
    return served;
  };
  while (jobs.length < allowed) {
    if (dueAt === due.length && moreDue) {
      const wanted = allowed - jobs.length;
      due = ranked ? selectRanked(ctx, queue, now, wanted) : selectDue.all(queue, now, wanted);
      dueAt = 0;
      moreDue = due.length === wanted;
    }
    const row = due[dueAt];
    const turn = turns.first();
    if (row !== undefined && (turn === undefined || rankOf(row) <= turn.at)) {
      dueAt += 1;
      if (row.state === "scheduled") {
        const token = tokens.next(allowed - jobs.length);
        claim.run(token, leaseExpiresAt, leaseExpiresAt, now, now, row.id);
        jobs.push(claimedRecord(row, token, leaseExpiresAt, now));
      } else if (row.attempts < row.max_attempts) {
        const reclaimed = ctx
          .statement<JobRow>(RECLAIM_EXPIRED)
          .get(now, tokens.next(allowed - jobs.length), leaseExpiresAt, leaseExpiresAt, now, row.id)!;
        jobs.push(toRecord(reclaimed));
      } else {
        ctx.statement(EXPIRE_TO_DEAD).run(now, now, row.id);
        if (row.group_name !== null) {
          // Its place is free: the group may be ready now, and then takes its turn in this claim.
          const place = changeGroup(ctx, queue, row.group_name, now, { active: -1 });
          if (place && place.at <= now) turns.offer(row.group_name, place);
          groupsChanged = true;
        }
      }
      continue;
    }
    // Nothing due and no group ready: done.
    if (turn === undefined) break;
    turns.take();
    groupsChanged = true;
    const started = takeTurn(ctx, queue, turn.name, now, tokens.next(allowed - jobs.length), nextTurn, leaseExpiresAt);
    if (!started) continue;
    jobs.push(started.job);
    // Ready again at once (at now, its turn the latest): behind every group already waiting.
    if (started.place && started.place.at <= now) turns.offer(turn.name, started.place);
  }
  if (served !== null) ctx.statement(SAVE_TURNS).run(queue, served);
  if (groupsChanged) firstReady = firstReadyAt(ctx, queue);
  const nextDueAt = earliest(ctx.statement<{ due_at: number }>(SELECT_NEXT_DUE).get(queue)?.due_at ?? null, firstReady);
  if (!bucket) return { jobs, nextDueAt, now };
  const charged = charge(bucket, now, jobs.length);
  saveBucket(ctx, queue, charged);
  return { jobs, nextDueAt: limitedNextDue(nextDueAt, charged, now), now };
}

/** The earliest instant anything of the queue is due: its ordinary due head or its first ready group (rule 4). */
export function headDueAt(ctx: SqliteContext, queue: string): number | null {
  return earliest(
    ctx.statement<{ due_at: number }>(SELECT_NEXT_DUE).get(queue)?.due_at ?? null,
    firstReadyAt(ctx, queue),
  );
}

function firstReadyAt(ctx: SqliteContext, queue: string): number | null {
  return ctx.statement<{ ready_at: number }>(SELECT_FIRST_READY).get(queue)?.ready_at ?? null;
}

function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null || a <= b ? a : b;
}

/** A due row's claim rank: when it became due (its lease expiry, if active), less its priority. */
function rankOf(row: JobRow): number {
  return claimRank(row.state === "active" ? row.lease_expires_at! : row.run_at, row.priority);
}

/** The record of a scheduled row just claimed: the row read plus what CLAIM changed. */
function claimedRecord(row: JobRow, token: string, leaseExpiresAt: number, now: number): JobRecord {
  const job = toRecord(row);
  job.state = "active";
  job.attempts += 1;
  job.leaseToken = token;
  job.leaseExpiresAt = leaseExpiresAt;
  job.updatedAt = now;
  if (job.runAt > now) job.runAt = now;
  return job;
}

/**
 * One turn of a ready group: its head starts, the group is charged and recomputed. Null when
 * the group is no longer ready (a change earlier in this claim) or, never expected, has no head.
 */
function takeTurn(
  ctx: SqliteContext,
  queue: string,
  name: string,
  now: number,
  leaseToken: string,
  nextTurn: () => number,
  leaseExpiresAt: number,
): { job: JobRecord; place: ReadyPlace | null } | null {
  const group = loadGroup(ctx, queue, name);
  if (group.row.ready_at === null || group.row.ready_at > now) return null;
  const head = ctx.statement<JobRow>(SELECT_GROUP_HEAD).get(queue, name);
  if (!head || head.run_at > now) {
    changeGroup(ctx, queue, name, now, {}, group);
    return null;
  }
  ctx.statement(CLAIM).run(leaseToken, leaseExpiresAt, leaseExpiresAt, now, now, head.id);
  const place = changeGroup(ctx, queue, name, now, { active: 1, scheduled: -1, turn: nextTurn() }, group);
  return { job: claimedRecord(head, leaseToken, leaseExpiresAt, now), place };
}

/** The `wanted` due rows of lowest claim rank: each level's due head, merged. */
function selectRanked(ctx: SqliteContext, queue: string, now: number, wanted: number): JobRow[] {
  const rows = ctx.statement<JobRow>(SELECT_DUE_LEVEL_0).all(queue, now, wanted);
  const level = ctx.statement<JobRow>(SELECT_DUE_LEVEL);
  for (const priority of PRIORITY_LEVELS) rows.push(...level.all(queue, priority, now, wanted));
  const rank = (row: JobRow) => claimRank(row.state === "active" ? row.lease_expires_at! : row.run_at, row.priority);
  rows.sort((a, b) => rank(a) - rank(b) || a.id - b.id);
  return rows.length > wanted ? rows.slice(0, wanted) : rows;
}

/** A ready group waiting for its turn in this claim, at its place in the turn order. */
interface Turn extends ReadyPlace {
  name: string;
}

/**
 * The ready groups (readyAt ≤ now) of one claim not yet served, in turn order (readyAt, turn,
 * name), as the ready index holds them: read once, then kept here as the claim changes them. A
 * group served and ready again at once comes back at (now, the latest turn), so behind all;
 * one freed by an expired lease comes in at its place.
 */
class Turns {
  private readonly waiting: Turn[];
  private readonly names: Set<string>;

  constructor(loaded: Turn[]) {
    // Kept in reverse, so the first in turn is taken from the end.
    this.waiting = loaded.reverse();
    this.names = new Set(loaded.map((turn) => turn.name));
  }

  first(): Turn | undefined {
    return this.waiting.at(-1);
  }

  take(): void {
    this.names.delete(this.waiting.pop()!.name);
  }

  /** A group ready by now at `place`: into its place, unless it is waiting already. */
  offer(name: string, place: ReadyPlace): void {
    if (this.names.has(name)) return;
    const turn: Turn = { name, at: place.at, turn: place.turn };
    let low = 0;
    let high = this.waiting.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (before(turn, this.waiting[middle]!)) low = middle + 1;
      else high = middle;
    }
    this.waiting.splice(low, 0, turn);
    this.names.add(name);
  }
}

function before(a: Turn, b: Turn): boolean {
  if (a.at !== b.at) return a.at < b.at;
  if (a.turn !== b.turn) return a.turn < b.turn;
  return a.name < b.name;
}

/**
 * Lease tokens for a whole batch from one call to the random source (a call per job was a
 * tenth of a claim's cost): 12 random bytes per token, the same strength as core/token.ts, and
 * 12 bytes are exactly 16 base64url characters, so the batch's text splits cleanly.
 */
const TOKEN_BYTES = 12;
const TOKEN_CHARS = 16;

function leaseTokens(count: number): string {
  return count === 0 ? "" : randomBytes(TOKEN_BYTES * count).toString("base64url");
}

/** Hands out a claim's lease tokens, drawing as many as are still wanted whenever it runs out. */
class LeaseTokens {
  private text = "";
  private at = 0;

  next(wanted: number): string {
    if (this.at === this.text.length) {
      this.text = leaseTokens(Math.max(1, wanted));
      this.at = 0;
    }
    const token = this.text.slice(this.at, this.at + TOKEN_CHARS);
    this.at += TOKEN_CHARS;
    return token;
  }
}

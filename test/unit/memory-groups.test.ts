import { describe, expect, it } from "vitest";
import type { DueEntry } from "../../packages/checkback/src/stores/memory/due-entry.js";
import { QueueGroups } from "../../packages/checkback/src/stores/memory/groups.js";

/**
 * The memory store's groups keep a group only while it has unfinished jobs or flow state worth
 * keeping, so millions of transient groups cost nothing once their work is done.
 */
describe("memory store groups: what a group costs after its work is done", () => {
  /** Groups whose jobs are all "waiting" while their entry is in `waiting`. */
  const setup = () => {
    const waiting = new Set<DueEntry>();
    const groups = new QueueGroups((entry) => waiting.has(entry));
    let seq = 0;
    /** Adds one due job to `group`, starts it and finishes it, at `now`. */
    const runOne = (group: string, now: number) => {
      const entry: DueEntry = { dueAt: now, seq: ++seq, id: String(seq), version: 0 };
      waiting.add(entry);
      groups.moved(group, null, "scheduled", entry, now);
      if (groups.nextReadyAt() === null || groups.nextReadyAt()! > now) return false;
      expect(groups.take(now)).toBe(entry.id);
      waiting.delete(entry);
      groups.moved(group, "active", "completed", null, now);
      return true;
    };
    return { groups, runOne };
  };

  it("forgets a group without limits as soon as its last job finishes", () => {
    const { groups, runOne } = setup();
    for (let i = 0; i < 1000; i++) expect(runOne(`user-${i}`, 1000)).toBe(true);
    expect(groups.size).toBe(0);
    expect(groups.state("user-7", 1000)).toMatchObject({ active: 0, scheduled: 0, ownLimits: false, tokens: null });
  });

  it("keeps a group that got a job again while it waited to be forgotten", () => {
    const groups = new QueueGroups(() => true);
    // Paused with no job: kept until the pause ends, then forgotten by a sweep...
    groups.pause("g", 1000, 0);
    // ...unless a job arrived meanwhile.
    const entry: DueEntry = { dueAt: 500, seq: 1, id: "1", version: 0 };
    groups.moved("g", null, "scheduled", entry, 500);
    groups.sweep(2000);
    expect(groups.size).toBe(1);
    expect(groups.state("g", 2000)).toMatchObject({ scheduled: 1 });
    expect(groups.nextReadyAt()).toBe(1000);
  });

  it("keeps a group whose bucket is refilling until it is full, then the next sweep forgets it", () => {
    const { groups, runOne } = setup();
    groups.setLimits(null, { concurrency: null, limit: { rate: 10, perMs: 1000 } }, 0);
    for (let i = 0; i < 100; i++) expect(runOne(`user-${i}`, 1000)).toBe(true);
    expect(groups.size).toBe(100);
    expect(groups.state("user-3", 1000).tokens).toBe(9);
    // One token back takes 100 ms: not full yet at 1099.
    groups.sweep(1099);
    expect(groups.size).toBe(100);
    groups.sweep(1100);
    expect(groups.size).toBe(0);
    // A group seen again starts with a full bucket, as if it had been kept.
    expect(groups.state("user-3", 1100).tokens).toBe(10);
  });

  it("keeps a paused group until its pause ends, and a group with its own limits until they are lifted", () => {
    const { groups, runOne } = setup();
    groups.pause("paused", 5000, 1000);
    groups.setLimits("vip", { concurrency: 3, limit: null }, 1000);
    expect(runOne("vip", 1000)).toBe(true);
    expect(groups.size).toBe(2);
    groups.sweep(4999);
    expect(groups.size).toBe(2);
    groups.sweep(5000);
    expect(groups.size).toBe(1);
    groups.setLimits("vip", null, 6000);
    expect(groups.size).toBe(0);
    // Resuming or lifting a group that holds nothing keeps nothing either.
    groups.pause("other", null, 6000);
    groups.setLimits("other", null, 6000);
    expect(groups.size).toBe(0);
  });

  it("lifting the queue's default rate frees every idle group's bucket at once", () => {
    const { groups, runOne } = setup();
    groups.setLimits(null, { concurrency: 2, limit: { rate: 1, perMs: 60_000 } }, 0);
    for (let i = 0; i < 10; i++) expect(runOne(`user-${i}`, 1000)).toBe(true);
    expect(groups.size).toBe(10);
    groups.setLimits(null, null, 2000);
    expect(groups.size).toBe(0);
  });
});

/**
 * A nightly scan with a sweep: walk every user in pages of 200 and send a birthday reminder to
 * those whose birthday is today. Run it with `npx tsx examples/sweep.ts`.
 *
 * The "users table" is an array here; in an app `page` is a keyset query such as
 *   SELECT id, name, birthday FROM users WHERE id > $cursor ORDER BY id LIMIT 200
 * and the cursor is the last id of the page. Kill the process mid-run and start it again: the
 * run resumes from its last checkpoint (the page in flight may be handled again, so `handle`
 * should be safe to repeat — here, a reminder keyed by user and day).
 */
import { Checkback } from "checkback";

interface User {
  id: number;
  name: string;
  birthday: string; // MM-DD
}

const today = new Date().toISOString().slice(5, 10);
const users: User[] = Array.from({ length: 5_000 }, (_, id) => ({
  id,
  name: `user-${id}`,
  birthday: id % 365 === 0 ? today : "02-30",
}));

const checkback = new Checkback({ store: process.env.CHECKBACK_STORE ?? "sqlite:./sweep-example.db" });

const reminders = checkback.sweep<User>("birthday-reminders", {
  // One page of the user's own table, from the cursor (null: the beginning).
  page(cursor) {
    const after = cursor === null ? -1 : Number(cursor);
    const items = users.filter((user) => user.id > after).slice(0, 200);
    const last = items.at(-1);
    return { items, next: last && last.id < users.length - 1 ? String(last.id) : null };
  },
  async handle(user) {
    if (user.birthday !== today) return;
    // A failure here would send the user to the sweep's item queue, retried with back-off.
    console.log(`happy birthday, ${user.name}!`);
  },
  concurrency: 20,
  total: users.length,
});

reminders.on("progress", (run) =>
  console.log(`page ${run.pages}: ${run.items}/${run.total} users, ${run.rate}/s, ETA ${run.etaMs ?? "?"} ms`),
);

// By hand here; in production a schedule's firing ("every night at 02:00") calls start().
// start() is idempotent: while a run is going (in any process) it returns that run.
const run = await reminders.start();
console.log(run.created ? `started run ${run.id}` : `resuming run ${run.id} at cursor ${run.cursor}`);

reminders.once("completed", async (done) => {
  console.log(`done: ${done.items} users in ${done.pages} pages, ${done.failed} failed, ${done.durationMs} ms`);
  console.log(
    "history:",
    (await reminders.runs(5)).map((r) => `${r.id} ${r.state} ${r.items}`),
  );
  await checkback.close();
});

import { invalidOption } from "../core/errors.js";
import type { Completion } from "./store.js";

/**
 * Follow-up jobs (`completion.enqueue`) belong to the completed job's queue, on every store:
 * a partitioned store places them beside the completed job, which only a queue of its own
 * can do. Checked before anything changes, so a refused completion leaves the job as it was.
 */
export function checkFollowUps(queue: string, completion: Completion): void {
  const stray = completion.enqueue?.find((job) => job.queue !== queue);
  if (stray) {
    throw invalidOption(
      `follow-up jobs must be in the completed job's queue ${JSON.stringify(queue)}, not ${JSON.stringify(stray.queue)}`,
      { queue, followUpQueue: stray.queue },
    );
  }
}

import { ValidationError } from "../core/errors.js";
import type { Release, Store } from "../stores/store.js";

/**
 * A release that also pauses its queue (a handler's `slowDown`, the HTTP release's `pauseQueue`):
 * the queue is paused first, until the instant the job is due again (both on the store's clock),
 * so no worker starts another of the queue's jobs between the two steps; then the job is
 * released without spending an attempt. Written once for the worker and the pull route, on top
 * of two store operations every store has.
 *
 * A store that refuses pauses (a partitioned Redis answers INVALID_OPTION) changes nothing on
 * the pause: `onRefused` decides — the worker reports it and still releases; the HTTP route
 * passes none, so the refusal is the answer and the job stays leased.
 */
export async function releaseJob(
  store: Store,
  queue: string,
  id: string,
  leaseToken: string,
  release: Release,
  onRefused?: (error: ValidationError) => void,
): Promise<void> {
  if (release.pauseQueue) {
    try {
      await store.pauseQueue(queue, { delayMs: release.delayMs });
    } catch (error) {
      if (!(onRefused && error instanceof ValidationError)) throw error;
      onRefused(error);
    }
  }
  await store.release(queue, id, leaseToken, release);
}

import { invalidOption, ValidationError } from "../core/errors.js";
import type { Release, Store } from "../stores/store.js";

export interface ReleaseJobOptions {
  /** The job's group, when the caller knows it (a worker does); otherwise a group pause reads the job. */
  group?: string | null;
  /** A refused pause: reported here and the job still released; without it, the refusal is thrown. */
  onRefused?: (error: ValidationError) => void;
}

/**
 * A release that also pauses its group or queue (a handler's `slowDown`, the HTTP release's
 * `pauseGroup` / `pauseQueue`): the pause is kept first, until the instant the job is due again
 * (both on the store's clock), so no worker starts another of the group's (queue's) jobs between
 * the two steps; then the job is released without spending an attempt. Written once for the
 * worker and the pull route, on top of store operations every store has.
 *
 * A pause that cannot be kept — a store that refuses pauses (a partitioned Redis answers
 * INVALID_OPTION), or a group pause for a job without a group — changes nothing on the pause:
 * `onRefused` decides — the worker reports it and still releases; the HTTP route passes none, so
 * the refusal is the answer and the job stays leased.
 */
export async function releaseJob(
  store: Store,
  queue: string,
  id: string,
  leaseToken: string,
  release: Release,
  { group, onRefused }: ReleaseJobOptions = {},
): Promise<void> {
  const refusable = async (pause: () => Promise<void>) => {
    try {
      await pause();
    } catch (error) {
      if (!(onRefused && error instanceof ValidationError)) throw error;
      onRefused(error);
    }
  };
  if (release.pauseGroup) {
    await refusable(async () => {
      // A job that is gone is not paused for: the release below answers LEASE_LOST.
      const name = group !== undefined ? group : ((await store.get(queue, id))?.group ?? undefined);
      if (name === undefined) return;
      if (name === null) {
        throw invalidOption(`job ${id} has no group to pause: slow down its queue instead`, { field: "pauseGroup" });
      }
      await store.pauseGroup(queue, name, { delayMs: release.delayMs });
    });
  }
  if (release.pauseQueue) await refusable(() => store.pauseQueue(queue, { delayMs: release.delayMs }));
  await store.release(queue, id, leaseToken, release);
}

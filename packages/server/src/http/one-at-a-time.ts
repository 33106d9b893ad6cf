/**
 * Runs changes one at a time, in the order they were asked for: each starts once the one
 * before has settled, whether it succeeded or failed (a failure is its caller's, not the next
 * change's). The check registry and the push dispatcher change their running workers this way,
 * so a start racing a sync cannot leave two workers on one queue or check.
 */
export class OneAtATime {
  private tail: Promise<void> = Promise.resolve();

  run<T>(change: () => Promise<T>): Promise<T> {
    const result = this.tail.then(change);
    this.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }
}

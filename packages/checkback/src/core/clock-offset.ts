/**
 * The store's clock minus this process's clock, estimated from the store's `now` that comes
 * back with each claim. A reply arrives some time after the store read its clock (the network,
 * a busy server, a busy event loop), so every sample underestimates the offset by that delay and
 * none overestimates it. The largest recent sample is therefore the best estimate: one slow
 * reply no longer makes the worker sleep past a due instant by the reply's delay. The window
 * lets a genuine clock step show through after a few claims.
 */
export class ClockOffset {
  private readonly samples: number[] = [];

  constructor(private readonly window = 16) {}

  /** Records the store's `now` as read just now; returns the current estimate. */
  note(storeNow: number, localNow: number = Date.now()): number {
    this.samples.push(storeNow - localNow);
    if (this.samples.length > this.window) this.samples.shift();
    return this.value;
  }

  get value(): number {
    return this.samples.length === 0 ? 0 : Math.max(...this.samples);
  }
}

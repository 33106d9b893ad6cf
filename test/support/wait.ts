/**
 * Waiting in tests. Assert that something happened by polling for it until a deadline
 * (waitFor), never by sleeping a fixed time and then looking: under load a fixed sleep is
 * sometimes too short. sleep is for the other case — "it did NOT happen within X" — and for
 * pacing; say at the call which of the two it is.
 */

/** Polls `check` every 10 ms until it returns true; throws once `timeoutMs` has passed without. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

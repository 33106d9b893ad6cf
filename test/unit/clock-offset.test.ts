import { describe, expect, it } from "vitest";
import { ClockOffset } from "../../packages/checkback/src/core/clock-offset.js";

describe("ClockOffset", () => {
  it("is not thrown off by a slow reply: it keeps the least delayed sample", () => {
    const clock = new ClockOffset(4);
    // The store is 100 ms ahead; replies take 1 ms, then one takes 40 ms.
    expect(clock.note(1_100, 1_001)).toBe(99);
    expect(clock.note(1_200, 1_140)).toBe(99);
    expect(clock.value).toBe(99);
  });

  it("follows a real clock step once the window has moved past the old samples", () => {
    const clock = new ClockOffset(2);
    clock.note(1_100, 1_000);
    clock.note(1_200, 1_100);
    clock.note(1_300, 1_250); // the store's clock stepped back 50 ms
    expect(clock.note(1_400, 1_350)).toBe(50);
  });
});

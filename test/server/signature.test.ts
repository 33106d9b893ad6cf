import { describe, expect, it } from "vitest";
import { signBody, verifySignature } from "../../packages/client/src/signature.js";

const secret = "whsec-test-0123456789";
const body = JSON.stringify({ id: "1", payload: { amount: 100 } });

describe("push signatures", () => {
  it("a signed body verifies", () => {
    const header = signBody(secret, body, 1_700_000_000_000);
    expect(header).toMatch(/^t=1700000000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature({ secret, body, header, now: 1_700_000_001_000 })).toEqual({
      ok: true,
      timestamp: 1_700_000_000_000,
    });
  });

  it("a changed body, another secret, a moved timestamp or a stale request do not", () => {
    const t = 1_700_000_000_000;
    const header = signBody(secret, body, t);
    const now = t + 1000;
    expect(verifySignature({ secret, body: `${body} `, header, now })).toMatchObject({ ok: false });
    expect(verifySignature({ secret: "another-secret-123", body, header, now })).toMatchObject({ ok: false });
    const moved = header.replace(`t=${t}`, `t=${t + 1}`);
    expect(verifySignature({ secret, body, header: moved, now })).toMatchObject({ ok: false, reason: /match/ });
    expect(verifySignature({ secret, body, header, now: t + 10 * 60_000 })).toMatchObject({
      ok: false,
      reason: /tolerance/,
    });
    expect(verifySignature({ secret, body, header: undefined })).toMatchObject({ ok: false });
    expect(verifySignature({ secret, body, header: "v1=abc" })).toMatchObject({ ok: false, reason: /malformed/ });
  });
});

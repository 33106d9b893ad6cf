import { generateKeyPairSync, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { contentToSign, rsa2Sign } from "../../examples/payment/gateway/signing.js";
import { alipayTimestamp } from "../../examples/payment/shared/sim-clock.js";
import { SANDBOX_APP_ID, SANDBOX_SELLER_ID } from "../../examples/payment/system.js";
import { answers, expectPaid, Harness, type Purchase } from "./payment-harness.js";

/**
 * Whatever arrives at the payment service's notify URL or return URL that is not a genuine,
 * matching notify from Alipay is refused and changes nothing. Speed 20: the payment window
 * (15 min) lasts 45 real seconds, far longer than these tests.
 */
describe("payment example: bad input", () => {
  let harness: Harness;
  let purchase: Purchase;
  const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs8",
    format: "pem",
  }) as string;

  beforeAll(async () => {
    harness = await Harness.start({ speed: 20 });
    purchase = await harness.buy({ lostNotifies: "all" }); // the cashier is open; nobody paid
  });
  afterAll(() => harness.close());

  /** A notify as Alipay would send it for this purchase, with `changes` applied, signed with `key`. */
  function notify(
    changes: Record<string, string>,
    key = harness.system.keys.gateway.privateKey,
  ): Record<string, string> {
    const form: Record<string, string> = {
      notify_time: alipayTimestamp(harness.system.clock.now()),
      notify_type: "trade_status_sync",
      notify_id: randomUUID().replaceAll("-", ""),
      app_id: SANDBOX_APP_ID,
      auth_app_id: SANDBOX_APP_ID,
      seller_id: SANDBOX_SELLER_ID,
      charset: "utf-8",
      version: "1.0",
      sign_type: "RSA2",
      trade_no: "2026112522001400000000000001",
      out_trade_no: purchase.outTradeNo,
      trade_status: "TRADE_SUCCESS",
      total_amount: "88.00",
      ...changes,
    };
    form.sign = rsa2Sign(contentToSign(form, ["sign", "sign_type"]), key);
    return form;
  }

  async function post(form: Record<string, string>): Promise<{ status: number; body: string }> {
    const response = await fetch(`${harness.system.payment.url}/alipay/notify`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
    return { status: response.status, body: await response.text() };
  }

  async function expectNothingChanged(): Promise<void> {
    const s = await harness.snapshot(purchase);
    expect(s.payment.status).toBe("UNPAID");
    expect(s.payment.tradeNo).toBeNull();
    expect(s.check.state).toBe("running");
    expect(answers(s).every((answer) => answer === "pending")).toBe(true);
    expect(s.outbox).toEqual([]);
    expect(s.order.status).toBe("UNPAID");
    expect(s.order.paymentOutcomes).toEqual([]);
  }

  test.each([
    ["signed with another key", () => notify({}, stranger), "rejected: bad signature"],
    ["changed after signing", () => ({ ...notify({}), total_amount: "8800.00" }), "rejected: bad signature"],
    ["unsigned", () => ({ ...notify({}), sign: "" }), "rejected: bad signature"],
    ["for a wrong amount", () => notify({ total_amount: "0.01" }), "rejected: total_amount 0.01 does not match"],
    ["for an unknown trade", () => notify({ out_trade_no: "P000000000000" }), "rejected: unknown out_trade_no"],
    ["for another app", () => notify({ app_id: "2021000000000999" }), "rejected: app_id 2021000000000999 is not ours"],
    [
      "for another seller",
      () => notify({ seller_id: "2088000000000999" }),
      "rejected: seller_id 2088000000000999 is not ours",
    ],
  ])("a notify %s is answered fail and changes nothing", async (_what, form, verdict) => {
    const answer = await post(form());
    expect(answer).toEqual({ status: 400, body: "fail" });
    await expectNothingChanged();
    const s = await harness.snapshot(purchase);
    if (verdict !== "rejected: unknown out_trade_no") expect(s.notifies.at(-1)?.verdict).toBe(verdict);
  });

  test("the return URL marks nothing paid, whatever it says", async () => {
    const forged = new URL(`${harness.system.payment.url}/pay/return`);
    for (const [name, value] of Object.entries(notify({}))) forged.searchParams.set(name, value);
    const page = await fetch(forged);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("confirming");
    await expectNothingChanged();
  });

  test("a cashier link whose amount was changed is refused by the gateway", async () => {
    const tampered = new URL(purchase.cashierUrl);
    const bizContent = JSON.parse(tampered.searchParams.get("biz_content")!);
    tampered.searchParams.set("biz_content", JSON.stringify({ ...bizContent, total_amount: "0.01" }));
    const page = await fetch(tampered);
    expect(page.status).toBe(400);
    expect(await page.text()).toContain("验签出错");
    expect((await harness.snapshot(purchase)).trade?.totalAmount).toBe("88.00");
  });

  test("a script the sandbox does not understand is refused", async () => {
    const response = await fetch(`${harness.system.gateway.url}/sandbox/scripts/${purchase.outTradeNo}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pay: { whenever: true } }),
    });
    expect(response.status).toBe(400);
  });

  test("after all that, the genuine payment goes through as usual", async () => {
    await harness.shopper.pay(purchase.outTradeNo);
    expectPaid(await harness.settled(purchase, "PAID"), "probe");
  });
});

import { AlipaySdk } from "alipay-sdk";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Gateway, startGateway } from "../../examples/payment/gateway/server.js";
import { acceptFormBodies } from "../../examples/payment/shared/form-body.js";
import { type KeyPair, newKeyPair } from "../../examples/payment/shared/keys.js";
import { SimClock } from "../../examples/payment/shared/sim-clock.js";
import { waitFor } from "../../examples/payment/shared/wait-for.js";

/**
 * The gateway sandbox on its own, driven through the official alipay-sdk: the same calls a
 * merchant makes against the real gateway. Speed 1200: Alipay's 4m/10m/10m notify retries take
 * 0.2 s, 0.5 s, 0.5 s.
 */
describe("payment example: the Alipay gateway sandbox", () => {
  const APP_ID = "2021000000000042";
  const clock = new SimClock(1200);
  let gatewayKeys: KeyPair;
  let merchantKeys: KeyPair;
  let gateway: Gateway;
  let receiver: FastifyInstance;
  let receiverUrl: string;
  /** What the receiver answers to each notify, in turn (then "success"). */
  const replies: { status: number; body: string }[] = [];
  const received: Record<string, string>[] = [];

  const sdk = (overrides: { privateKey?: string; alipayPublicKey?: string; appId?: string } = {}) =>
    new AlipaySdk({
      appId: overrides.appId ?? APP_ID,
      privateKey: overrides.privateKey ?? merchantKeys.privateKey,
      alipayPublicKey: overrides.alipayPublicKey ?? gatewayKeys.publicKey,
      keyType: "PKCS8",
      gateway: `${gateway.url}/gateway.do`,
      camelcase: false,
    });
  const query = (client: AlipaySdk, outTradeNo: string) =>
    client.exec("alipay.trade.query", { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });
  const close = (client: AlipaySdk, outTradeNo: string) =>
    client.exec("alipay.trade.close", { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });
  const cashierUrl = (outTradeNo: string) =>
    sdk().pageExecute("alipay.trade.page.pay", "GET", {
      bizContent: {
        out_trade_no: outTradeNo,
        total_amount: "12.30",
        subject: "a lamp 台灯",
        product_code: "FAST_INSTANT_TRADE_PAY",
      },
      notifyUrl: `${receiverUrl}/notify`,
    });

  beforeAll(async () => {
    gatewayKeys = newKeyPair();
    merchantKeys = newKeyPair();
    gateway = await startGateway({
      keys: gatewayKeys,
      merchants: [{ appId: APP_ID, publicKey: merchantKeys.publicKey, sellerId: "2088000000000042" }],
      clock,
    });
    receiver = Fastify();
    acceptFormBodies(receiver);
    receiver.post("/notify", async (request, reply) => {
      received.push(request.body as Record<string, string>);
      const next = replies.shift() ?? { status: 200, body: "success" };
      return reply.code(next.status).type("text/plain").send(next.body);
    });
    receiverUrl = await receiver.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await gateway?.close();
    await receiver?.close();
  });

  test("a trade exists once the cashier is opened; close makes it final", async () => {
    const client = sdk();
    expect(await query(client, "T-life")).toMatchObject({ code: "40004", sub_code: "ACQ.TRADE_NOT_EXIST" });
    expect((await fetch(cashierUrl("T-life"))).status).toBe(200);
    expect(await query(client, "T-life")).toMatchObject({
      code: "10000",
      trade_status: "WAIT_BUYER_PAY",
      total_amount: "12.30",
    });
    expect(await close(client, "T-life")).toMatchObject({ code: "10000", out_trade_no: "T-life" });
    expect(await query(client, "T-life")).toMatchObject({ code: "10000", trade_status: "TRADE_CLOSED" });
    expect(await close(client, "T-life")).toMatchObject({ code: "40004", sub_code: "ACQ.TRADE_STATUS_ERROR" });
    const pay = await fetch(`${gateway.url}/cashier/T-life/pay`, { method: "POST" });
    expect(pay.status).toBe(409);
    expect(await close(client, "T-never-opened")).toMatchObject({ sub_code: "ACQ.TRADE_NOT_EXIST" });
  });

  test("requests must be signed with the merchant's key; answers are signed with the gateway's", async () => {
    const impostor = sdk({ privateKey: newKeyPair().privateKey });
    expect(await query(impostor, "T-sig")).toMatchObject({ code: "40002", sub_code: "isv.invalid-signature" });
    // An unknown app id gets the unsigned error_response, which a client that validates signatures refuses.
    const stranger = sdk({ appId: "2021000000000999" });
    expect(
      await stranger.exec("alipay.trade.query", { bizContent: { out_trade_no: "T-sig" } }, { validateSign: false }),
    ).toMatchObject({ code: "40002", sub_code: "isv.invalid-app-id" });
    await expect(query(stranger, "T-sig")).rejects.toThrow();
    // A client expecting another gateway key refuses the sandbox's answers.
    await expect(query(sdk({ alipayPublicKey: newKeyPair().publicKey }), "T-sig")).rejects.toThrow(/验签失败/);
  });

  test("the notify is signed, and retried on Alipay's schedule until the answer is exactly `success`", async () => {
    replies.push(
      { status: 200, body: "Success" },
      { status: 500, body: "success" },
      { status: 200, body: "success\n" },
    );
    await fetch(cashierUrl("T-notify"));
    const paid = await fetch(`${gateway.url}/cashier/T-notify/pay`, { method: "POST" });
    expect(paid.status).toBe(200); // no return_url: the cashier shows its own page

    const attempts = await waitFor(
      () => gateway.notifier.attempts.filter((a) => a.outTradeNo === "T-notify"),
      (list) => list.length === 4,
      20_000,
    );
    expect(attempts.map((a) => a.outcome)).toEqual([
      'answered 200 "Success"',
      'answered 500 "success"',
      'answered 200 "success\\n"',
      "success",
    ]);
    // 4m, 10m, 10m apart (lower bounds only: timers never fire early by more than a tick).
    const gaps = attempts.slice(1).map((a, i) => a.at.getTime() - attempts[i]!.at.getTime());
    const tick = 3_000;
    expect(gaps[0]).toBeGreaterThanOrEqual(4 * 60_000 - tick);
    expect(gaps[1]).toBeGreaterThanOrEqual(10 * 60_000 - tick);
    expect(gaps[2]).toBeGreaterThanOrEqual(10 * 60_000 - tick);
    // Acknowledged: no fifth attempt at the 1h mark.
    await new Promise((resolve) => setTimeout(resolve, clock.real("65m")));
    expect(gateway.notifier.attempts.filter((a) => a.outTradeNo === "T-notify")).toHaveLength(4);

    const mine = received.filter((form) => form.out_trade_no === "T-notify");
    expect(new Set(mine.map((form) => form.notify_id)).size).toBe(1); // one notify, delivered four times
    const form = mine[0]!;
    expect(form).toMatchObject({
      notify_type: "trade_status_sync",
      app_id: APP_ID,
      auth_app_id: APP_ID,
      seller_id: "2088000000000042",
      trade_status: "TRADE_SUCCESS",
      total_amount: "12.30",
      receipt_amount: "12.30",
      invoice_amount: "12.30",
      buyer_pay_amount: "12.30",
      point_amount: "0.00",
      subject: "a lamp 台灯",
      buyer_id: expect.stringMatching(/^2088\d{12}$/),
      gmt_create: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      gmt_payment: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
    });
    expect(JSON.parse(form.fund_bill_list!)).toEqual([{ amount: "12.30", fundChannel: "ALIPAYACCOUNT" }]);
    expect(sdk().checkNotifySignV2(form)).toBe(true);
    expect(sdk().checkNotifySignV2({ ...form, total_amount: "0.01" })).toBe(false);
  });
});

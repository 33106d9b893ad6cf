import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlipaySdk } from "alipay-sdk";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Gateway, type GatewayOptions, startGateway } from "../../examples/payment/gateway/server.js";
import { contentToSign, rsa2Sign } from "../../examples/payment/gateway/signing.js";
import { type KeyPair, newKeyPair } from "../../examples/payment/shared/keys.js";
import { alipayTimestamp, SimClock } from "../../examples/payment/shared/sim-clock.js";

/**
 * The sandbox as strict as the real gateway: refunds by Alipay's rules, trade_no as well as
 * out_trade_no, malformed requests answered as the gateway answers them, trades that survive a
 * restart, and no payment after time_expire. Through alipay-sdk where a merchant would use it.
 */
describe("payment example: the sandbox's fidelity", () => {
  const APP_ID = "2021000000000077";
  const clock = new SimClock(60);
  const dataDir = mkdtempSync(join(tmpdir(), "checkback-sandbox-"));
  let gatewayKeys: KeyPair;
  let merchantKeys: KeyPair;
  let options: GatewayOptions;
  let gateway: Gateway;

  const sdk = () =>
    new AlipaySdk({
      appId: APP_ID,
      privateKey: merchantKeys.privateKey,
      alipayPublicKey: gatewayKeys.publicKey,
      keyType: "PKCS8",
      gateway: `${gateway.url}/gateway.do`,
      camelcase: false,
    });
  const call = (method: string, bizContent: Record<string, string>) =>
    sdk().exec(method, { bizContent }, { validateSign: true });
  /** Opens the cashier for a fresh trade; `expireIn` business ms from now. */
  const open = async (outTradeNo: string, totalAmount = "88.00", expireIn = 15 * 60_000) => {
    const url = sdk().pageExecute("alipay.trade.page.pay", "GET", {
      bizContent: {
        out_trade_no: outTradeNo,
        total_amount: totalAmount,
        subject: "a book",
        product_code: "FAST_INSTANT_TRADE_PAY",
        time_expire: alipayTimestamp(new Date(clock.now().getTime() + expireIn)),
      },
    });
    return fetch(url);
  };
  const pay = (outTradeNo: string) => fetch(`${gateway.url}/cashier/${outTradeNo}/pay`, { method: "POST" });
  /** A request signed by the merchant with these common parameters, sent as is. */
  const raw = async (params: Record<string, string>) => {
    const signed = { ...params, sign: rsa2Sign(contentToSign(params), merchantKeys.privateKey) };
    const response = await fetch(`${gateway.url}/gateway.do?${new URLSearchParams(signed)}`);
    return JSON.parse(await response.text()) as Record<string, unknown>;
  };
  const common = () => ({
    app_id: APP_ID,
    method: "alipay.trade.query",
    charset: "utf-8",
    sign_type: "RSA2",
    timestamp: alipayTimestamp(new Date()),
    version: "1.0",
    format: "JSON",
    biz_content: JSON.stringify({ out_trade_no: "T-raw" }),
  });

  beforeAll(async () => {
    gatewayKeys = newKeyPair();
    merchantKeys = newKeyPair();
    options = {
      keys: gatewayKeys,
      merchants: [{ appId: APP_ID, publicKey: merchantKeys.publicKey, sellerId: "2088000000000077" }],
      clock,
      dataDir,
    };
    gateway = await startGateway(options);
  });
  afterAll(async () => {
    await gateway?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("refunds follow Alipay's rules: only a paid trade, up to what was paid, one per out_request_no, closed when full", async () => {
    await open("T-refund");
    expect(
      await call("alipay.trade.refund", { out_trade_no: "T-refund", refund_amount: "1.00", out_request_no: "R0" }),
    ).toMatchObject({ code: "40004", sub_code: "ACQ.TRADE_STATUS_ERROR" }); // not paid yet
    await pay("T-refund");

    const first = await call("alipay.trade.refund", {
      out_trade_no: "T-refund",
      refund_amount: "30.00",
      out_request_no: "R1",
    });
    expect(first).toMatchObject({ code: "10000", fund_change: "Y", refund_fee: "30.00" });
    // The same request again: the same answer, no money moves.
    expect(
      await call("alipay.trade.refund", { out_trade_no: "T-refund", refund_amount: "30.00", out_request_no: "R1" }),
    ).toMatchObject({ code: "10000", fund_change: "N", refund_fee: "30.00" });
    expect(
      await call("alipay.trade.refund", { out_trade_no: "T-refund", refund_amount: "60.00", out_request_no: "R2" }),
    ).toMatchObject({ code: "40004", sub_code: "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" }); // 30 + 60 > 88
    expect(
      await call("alipay.trade.fastpay.refund.query", { out_trade_no: "T-refund", out_request_no: "R1" }),
    ).toMatchObject({ code: "10000", refund_status: "REFUND_SUCCESS", refund_amount: "30.00" });
    const unknown = await call("alipay.trade.fastpay.refund.query", { out_trade_no: "T-refund", out_request_no: "R2" });
    expect(unknown).toMatchObject({ code: "10000" });
    expect(unknown.refund_status).toBeUndefined();

    expect(
      await call("alipay.trade.refund", { out_trade_no: "T-refund", refund_amount: "58.00", out_request_no: "R3" }),
    ).toMatchObject({ code: "10000", fund_change: "Y", refund_fee: "88.00" });
    expect(await call("alipay.trade.query", { out_trade_no: "T-refund" })).toMatchObject({
      trade_status: "TRADE_CLOSED",
    });
    expect(
      await call("alipay.trade.refund", { out_trade_no: "T-refund", refund_amount: "0.01", out_request_no: "R4" }),
    ).toMatchObject({ code: "40004", sub_code: "ACQ.TRADE_STATUS_ERROR" });
  });

  test("a trade is found by trade_no as well as out_trade_no; trades survive a sandbox restart", async () => {
    await open("T-restart", "12.30");
    await pay("T-restart");
    const byOut = await call("alipay.trade.query", { out_trade_no: "T-restart" });
    expect(byOut).toMatchObject({ trade_status: "TRADE_SUCCESS", total_amount: "12.30" });

    await gateway.close();
    gateway = await startGateway(options);
    expect(await call("alipay.trade.query", { trade_no: byOut.trade_no })).toMatchObject({
      out_trade_no: "T-restart",
      trade_status: "TRADE_SUCCESS",
    });
    expect(await call("alipay.trade.query", { trade_no: "2026010122001000000000000000" })).toMatchObject({
      sub_code: "ACQ.TRADE_NOT_EXIST",
    });
  });

  test("malformed requests are answered as the gateway answers them", async () => {
    const { method: _dropped, ...noMethod } = common();
    expect(await raw(noMethod)).toEqual({
      error_response: expect.objectContaining({ sub_code: "isv.missing-method" }),
    });
    expect(await raw({ ...common(), method: "alipay.trade.nothing" })).toEqual({
      error_response: expect.objectContaining({ sub_code: "isv.invalid-method" }),
    });
    expect(await raw({ ...common(), timestamp: "2026/11/25 09:50" })).toEqual({
      error_response: expect.objectContaining({ sub_code: "isv.invalid-timestamp" }),
    });
    expect(await raw({ ...common(), version: "2.0" })).toEqual({
      error_response: expect.objectContaining({ code: "40002" }),
    });
    expect(await raw({ ...common(), format: "XML" })).toEqual({
      error_response: expect.objectContaining({ sub_code: "isv.invalid-format" }),
    });
    expect(await raw({ ...common(), biz_content: "{not json" })).toMatchObject({
      alipay_trade_query_response: { code: "40002" },
    });
    expect(await raw({ ...common(), biz_content: "{}" })).toMatchObject({
      alipay_trade_query_response: { sub_code: "isv.missing-parameter" },
    });
  });

  test("a shopper who pays after time_expire is refused, and the trade is closed", async () => {
    await open("T-late", "5.00", 60_000);
    await new Promise((resolve) => setTimeout(resolve, clock.real("70s")));
    const late = await pay("T-late");
    expect(late.status).toBe(409);
    expect(await call("alipay.trade.query", { out_trade_no: "T-late" })).toMatchObject({
      trade_status: "TRADE_CLOSED",
    });
  });
});

import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { acceptFormBodies } from "../shared/form-body.js";
import type { KeyPair } from "../shared/keys.js";
import { parseAmount } from "../shared/money.js";
import { alipayTimestamp, parseAlipayTimestamp, type SimClock } from "../shared/sim-clock.js";
import { type Log, silent } from "../shared/timeline.js";
import { cashierPage, messagePage } from "./cashier-page.js";
import { Notifier } from "./notifier.js";
import { type AlipayError, businessError, type Merchant, verifyRequest } from "./requests.js";
import { type TradeScript, tradeScriptSchema } from "./script.js";
import { contentToSign, rsa2Sign, signedResponse } from "./signing.js";
import { type Refusal, type Trade, TradeBook } from "./trades.js";

export interface GatewayOptions {
  /** The sandbox's own key pair; merchants verify its answers and notifies with the public half. */
  keys: KeyPair;
  merchants: Merchant[];
  clock: SimClock;
  port?: number;
  log?: Log;
}

export interface Gateway {
  /** Base URL; the open API is at `${url}/gateway.do`. */
  url: string;
  trades: TradeBook;
  notifier: Notifier;
  close(): Promise<void>;
}

const EXPIRY_SWEEP_LAG_MS = 5 * 60_000;
const SYSTEM_ERROR = businessError("ACQ.SYSTEM_ERROR", "系统错误");

/**
 * A sandbox speaking Alipay's open API on loopback: alipay.trade.page.pay (the cashier page),
 * alipay.trade.query and alipay.trade.close, RSA2-signed both ways, with Alipay's notify retry
 * schedule, plus a /sandbox control API to script each trade's behaviour.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { clock, keys } = options;
  const log = options.log ?? silent;
  const merchants = new Map(options.merchants.map((m) => [m.appId, m]));
  const timers = new Set<NodeJS.Timeout>();
  const later = (businessDelay: number | string, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, clock.real(businessDelay));
    timers.add(timer);
  };

  const trades: TradeBook = new TradeBook((trade) => {
    log("gateway", `trade ${trade.outTradeNo} is ${trade.status}`);
    notifier.announce(trade);
  });
  const notifier = new Notifier(trades, clock, keys.privateKey, log);
  const app = Fastify();
  acceptFormBodies(app);

  const paramsOf = (request: FastifyRequest): Record<string, string> => {
    // Parsed from the raw URL so `+` and %-escapes decode exactly as the merchant's client encoded them.
    const query = Object.fromEntries(new URL(request.url, "http://gateway").searchParams);
    const body =
      typeof request.body === "object" && request.body !== null ? (request.body as Record<string, string>) : {};
    return { ...query, ...body };
  };

  const gatewayDo = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = paramsOf(request);
    const verified = verifyRequest(params, merchants);
    if (verified.method === "alipay.trade.page.pay") {
      if (!verified.ok)
        return reply.code(400).type("text/html").send(messagePage("Payment refused", verified.error.sub_msg));
      return openCashier(verified.appId, verified.biz, params, reply);
    }
    const answer = (inner: object) =>
      reply.type("application/json;charset=utf-8").send(signedResponse(verified.method, inner, keys.privateKey));
    if (!verified.ok) return answer(verified.error);
    const outTradeNo = String(verified.biz.out_trade_no ?? "");
    const script = trades.script(outTradeNo);
    const plan = script.pay;
    const query =
      verified.method === "alipay.trade.query" && trades.get(outTradeNo) ? trades.countQuery(outTradeNo) : 0;
    if (typeof plan === "object" && "atQuery" in plan && plan.atQuery === query) payNow(outTradeNo);
    if (plan === "at-close" && verified.method === "alipay.trade.close") {
      // A payment the shopper confirmed before time_expire, completing as the close comes in:
      // the gateway's expiry rule does not apply to it, only the order of the two at the gateway.
      log("shopper", `pays ${outTradeNo} at the last moment`);
      trades.pay(outTradeNo, clock.now());
    }
    if (typeof plan === "object" && "afterQuery" in plan && plan.afterQuery === query) {
      later("5s", () => payNow(outTradeNo));
    }
    if (script.slowAnswers !== undefined)
      await new Promise((resolve) => later(script.slowAnswers!, () => resolve(null)));
    if (trades.consume(outTradeNo, "unavailable")) return reply.code(503).send("Service Unavailable");
    if (trades.consume(outTradeNo, "systemErrors")) return answer(SYSTEM_ERROR);
    if (verified.method === "alipay.trade.close" && trades.consume(outTradeNo, "closeErrors"))
      return answer(SYSTEM_ERROR);
    const trade = trades.get(outTradeNo);
    const owned = trade && trade.appId === verified.appId ? trade : undefined;
    switch (verified.method) {
      case "alipay.trade.query":
        return answer(owned ? queryAnswer(owned) : refusal("ACQ.TRADE_NOT_EXIST"));
      case "alipay.trade.close": {
        const closed = owned ? trades.close(outTradeNo, clock.now()) : "ACQ.TRADE_NOT_EXIST";
        log("gateway", `close ${outTradeNo}: ${typeof closed === "string" ? closed : "closed"}`);
        return answer(
          typeof closed === "string"
            ? refusal(closed)
            : { code: "10000", msg: "Success", trade_no: closed.tradeNo, out_trade_no: outTradeNo },
        );
      }
      default:
        return answer({
          code: "40004",
          msg: "Business Failed",
          sub_code: "isv.invalid-method",
          sub_msg: `不存在的方法名 ${verified.method}`,
        });
    }
  };

  const openCashier = (
    appId: string,
    biz: Record<string, unknown>,
    params: Record<string, string>,
    reply: FastifyReply,
  ) => {
    const outTradeNo = typeof biz.out_trade_no === "string" ? biz.out_trade_no : "";
    const totalAmount = typeof biz.total_amount === "string" ? biz.total_amount : "";
    if (!outTradeNo || parseAmount(totalAmount) === null || typeof biz.subject !== "string") {
      return reply
        .code(400)
        .type("text/html")
        .send(messagePage("Payment refused", "out_trade_no, total_amount and subject are required"));
    }
    const expiresAt = typeof biz.time_expire === "string" ? parseAlipayTimestamp(biz.time_expire) : null;
    const existing = trades.get(outTradeNo);
    if (existing && (existing.totalAmount !== totalAmount || existing.appId !== appId)) {
      return reply
        .code(400)
        .type("text/html")
        .send(messagePage("Payment refused", "ACQ.CONTEXT_INCONSISTENT: the trade was opened with other details"));
    }
    if (!existing && expiresAt && expiresAt <= clock.now()) {
      return reply.code(400).type("text/html").send(messagePage("Payment refused", "This payment has expired."));
    }
    const trade = trades.open({
      outTradeNo,
      appId,
      subject: biz.subject,
      totalAmount,
      notifyUrl: params.notify_url ?? null,
      returnUrl: params.return_url ?? null,
      createdAt: clock.now(),
      expiresAt,
    });
    if (!existing) onOpened(trade);
    return reply.type("text/html").send(cashierPage(trade));
  };

  const onOpened = (trade: Trade) => {
    log("shopper", `opens the cashier for ${trade.outTradeNo} (¥${trade.totalAmount})`);
    if (trade.expiresAt) {
      // Past time_expire the cashier takes no money at once; the trade itself is closed by a
      // sweep a few minutes later, as at Alipay, so a merchant's own close usually comes first.
      const sweepAt = trade.expiresAt.getTime() + EXPIRY_SWEEP_LAG_MS;
      later(Math.max(0, sweepAt - clock.now().getTime()), () => {
        if (trade.status === "WAIT_BUYER_PAY") trades.close(trade.outTradeNo, clock.now());
      });
    }
    const plan = trades.script(trade.outTradeNo).pay;
    if (plan === "never") log("shopper", `walks away from ${trade.outTradeNo}`);
    else if (plan === "at-close") log("shopper", `hesitates over ${trade.outTradeNo}`);
    else if (typeof plan === "string" || typeof plan === "number") later(plan, () => payNow(trade.outTradeNo));
  };

  const payNow = (outTradeNo: string): Trade | Refusal => {
    const trade = trades.get(outTradeNo);
    if (trade?.expiresAt && trade.expiresAt <= clock.now() && trade.status === "WAIT_BUYER_PAY") {
      trades.close(outTradeNo, clock.now());
    }
    log("shopper", `pays ${outTradeNo}`);
    const paid = trades.pay(outTradeNo, clock.now());
    if (typeof paid === "string") log("gateway", `payment for ${outTradeNo} refused: ${paid}`);
    return paid;
  };

  /** The synchronous return: signed like a notify, but only ever a hint to the merchant. */
  const returnUrlFor = (trade: Trade): string => {
    const params: Record<string, string> = {
      app_id: trade.appId,
      method: "alipay.trade.page.pay.return",
      charset: "utf-8",
      version: "1.0",
      sign_type: "RSA2",
      timestamp: alipayTimestamp(clock.now()),
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      total_amount: trade.totalAmount,
    };
    params.sign = rsa2Sign(contentToSign(params, ["sign", "sign_type"]), keys.privateKey);
    const url = new URL(trade.returnUrl!);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    return url.toString();
  };

  app.get("/gateway.do", gatewayDo);
  app.post("/gateway.do", gatewayDo);

  app.post<{ Params: { outTradeNo: string } }>("/cashier/:outTradeNo/pay", async (request, reply) => {
    const paid = payNow(request.params.outTradeNo);
    if (typeof paid === "string") return reply.code(409).type("text/html").send(messagePage("Payment failed", paid));
    if (paid.returnUrl) return reply.redirect(returnUrlFor(paid), 303);
    return reply.type("text/html").send(messagePage("Paid", `You paid ¥${paid.totalAmount}.`));
  });

  app.post<{ Params: { outTradeNo: string } }>("/cashier/:outTradeNo/leave", async (request, reply) => {
    log("shopper", `leaves the cashier for ${request.params.outTradeNo}`);
    return reply.type("text/html").send(messagePage("Not paid", "You left without paying."));
  });

  // --- sandbox control: scripts and inspection -------------------------------------------

  app.put<{ Params: { outTradeNo: string }; Body: TradeScript }>(
    "/sandbox/scripts/:outTradeNo",
    { schema: { body: tradeScriptSchema } },
    async (request) => {
      trades.setScript(request.params.outTradeNo, request.body);
      return trades.script(request.params.outTradeNo);
    },
  );

  app.get<{ Params: { outTradeNo: string } }>("/sandbox/trades/:outTradeNo", async (request, reply) => {
    const trade = trades.get(request.params.outTradeNo);
    if (!trade) return reply.code(404).send({ error: "ACQ.TRADE_NOT_EXIST" });
    return { ...trade, notifies: notifier.attempts.filter((a) => a.outTradeNo === trade.outTradeNo) };
  });

  const address = await app.listen({ port: options.port ?? 0, host: "127.0.0.1" });
  return {
    url: address,
    trades,
    notifier,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      notifier.close();
      await app.close();
    },
  };
}

function queryAnswer(trade: Trade): Record<string, unknown> {
  const paid = trade.status === "TRADE_SUCCESS" || trade.status === "TRADE_FINISHED";
  return {
    code: "10000",
    msg: "Success",
    trade_no: trade.tradeNo,
    out_trade_no: trade.outTradeNo,
    buyer_logon_id: "san***@sandbox.example",
    trade_status: trade.status,
    total_amount: trade.totalAmount,
    ...(paid ? { buyer_pay_amount: trade.totalAmount, send_pay_date: alipayTimestamp(trade.paidAt!) } : {}),
  };
}

function refusal(code: Refusal): AlipayError {
  const text: Record<Refusal, string> = {
    "ACQ.TRADE_NOT_EXIST": "交易不存在",
    "ACQ.TRADE_STATUS_ERROR": "交易状态不合法",
    "ACQ.TRADE_HAS_CLOSE": "交易已经关闭",
  };
  return businessError(code, text[code]);
}

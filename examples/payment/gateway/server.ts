import { join } from "node:path";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { acceptFormBodies } from "../shared/form-body.js";
import type { KeyPair } from "../shared/keys.js";
import type { SimClock } from "../shared/sim-clock.js";
import { type Log, silent } from "../shared/timeline.js";
import { openTrade, returnUrlFor } from "./cashier.js";
import { cashierPage, messagePage } from "./cashier-page.js";
import { openSandboxDatabase } from "./database.js";
import { Notifier } from "./notifier.js";
import { answerCall, SYSTEM_ERROR, tradeOf } from "./open-api.js";
import { type Merchant, verifyRequest } from "./requests.js";
import { type TradeScript, tradeScriptSchema } from "./script.js";
import { ScriptRunner } from "./script-runner.js";
import { signedResponse } from "./signing.js";
import { BusinessTimers } from "./timers.js";
import { type Trade, TradeBook } from "./trades.js";

export interface GatewayOptions {
  /** The sandbox's own key pair; merchants verify its answers and notifies with the public half. */
  keys: KeyPair;
  merchants: Merchant[];
  clock: SimClock;
  port?: number;
  /** Where the sandbox keeps its SQLite file (trades survive a restart); in memory without one. */
  dataDir?: string;
  log?: Log;
}

export interface Gateway {
  /** Base URL; the open API is at `${url}/gateway.do`. */
  url: string;
  trades: TradeBook;
  notifier: Notifier;
  close(): Promise<void>;
}

/** Alipay closes expired trades in a sweep some minutes after time_expire, not on the dot. */
const EXPIRY_SWEEP_LAG_MS = 5 * 60_000;

/**
 * A sandbox speaking Alipay's open API on loopback: alipay.trade.page.pay (the cashier page),
 * alipay.trade.query and alipay.trade.close, RSA2-signed both ways, with Alipay's notify retry
 * schedule, plus a /sandbox control API to script each trade's behaviour.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { clock, keys } = options;
  const log = options.log ?? silent;
  const merchants = new Map(options.merchants.map((m) => [m.appId, m]));
  const timers = new BusinessTimers(clock);
  const db = openSandboxDatabase(options.dataDir ? join(options.dataDir, "gateway.db") : ":memory:");
  const trades: TradeBook = new TradeBook(db, (trade) => {
    log("gateway", `trade ${trade.outTradeNo} is ${trade.status}`);
    notifier.announce(trade);
  });
  const notifier = new Notifier(db, trades, clock, timers, keys.privateKey, log);
  const scripts = new ScriptRunner(trades, clock, timers, log);
  const app = Fastify();
  acceptFormBodies(app);

  const gatewayDo = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = paramsOf(request);
    const verified = verifyRequest(params, merchants);
    if (verified.method === "alipay.trade.page.pay") {
      const result = verified.ok
        ? openTrade(
            { appId: verified.appId, sellerId: merchants.get(verified.appId)!.sellerId, biz: verified.biz, params },
            trades,
            clock,
          )
        : { refused: verified.error.sub_msg };
      if ("refused" in result)
        return reply.code(400).type("text/html").send(messagePage("Payment refused", result.refused));
      if (result.opened) onOpened(result.trade);
      return reply.type("text/html").send(cashierPage(result.trade));
    }
    const answer = (inner: object) =>
      reply.type("application/json;charset=utf-8").send(signedResponse(verified.method, inner, keys.privateKey));
    if (!verified.ok) {
      // Unsigned, as the real gateway's: there is no method and app it could sign for.
      if (verified.envelope === "error_response")
        return reply.type("application/json;charset=utf-8").send(JSON.stringify({ error_response: verified.error }));
      return answer(verified.error);
    }
    const outTradeNo =
      tradeOf(trades, verified.appId, verified.biz)?.outTradeNo ?? String(verified.biz.out_trade_no ?? "");
    const fault = await scripts.beforeAnswer(verified.method, outTradeNo);
    if (fault === "unavailable") return reply.code(503).send("Service Unavailable");
    if (fault === "system-error") return answer(SYSTEM_ERROR);
    return answer(answerCall(verified.method, verified.appId, verified.biz, { trades, clock, log }));
  };

  /** Alipay's sweep closes a trade nobody paid some minutes after its time_expire. */
  const sweepWhenExpired = (trade: Trade) => {
    if (!trade.expiresAt) return;
    const sweepIn = trade.expiresAt.getTime() - clock.now().getTime() + EXPIRY_SWEEP_LAG_MS;
    timers.after(Math.max(0, sweepIn), () => {
      if (trades.get(trade.outTradeNo)?.status === "WAIT_BUYER_PAY") trades.close(trade.outTradeNo, clock.now());
    });
  };
  const onOpened = (trade: Trade) => {
    sweepWhenExpired(trade);
    scripts.cashierOpened(trade);
  };
  // After a restart: the expiry sweeps and the notifies still owed go on.
  for (const trade of trades.all()) if (trade.status === "WAIT_BUYER_PAY") sweepWhenExpired(trade);
  notifier.resume();

  app.get("/gateway.do", gatewayDo);
  app.post("/gateway.do", gatewayDo);

  app.post<{ Params: { outTradeNo: string } }>("/cashier/:outTradeNo/pay", async (request, reply) => {
    const paid = scripts.payNow(request.params.outTradeNo);
    if (typeof paid === "string") return reply.code(409).type("text/html").send(messagePage("Payment failed", paid));
    if (paid.returnUrl) return reply.redirect(returnUrlFor(paid, clock, keys.privateKey), 303);
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
    return {
      ...trade,
      refunds: trades.refunds(trade.tradeNo),
      notifies: notifier.attempts.filter((a) => a.outTradeNo === trade.outTradeNo),
    };
  });

  const url = await app.listen({ port: options.port ?? 0, host: "127.0.0.1" });
  return {
    url,
    trades,
    notifier,
    async close() {
      timers.clear();
      await app.close();
      db.close();
    },
  };
}

/** Query string and form body together, the query parsed from the raw URL so `+` and %-escapes decode as the client encoded them. */
function paramsOf(request: FastifyRequest): Record<string, string> {
  const query = Object.fromEntries(new URL(request.url, "http://gateway").searchParams);
  const body =
    typeof request.body === "object" && request.body !== null ? (request.body as Record<string, string>) : {};
  return { ...query, ...body };
}

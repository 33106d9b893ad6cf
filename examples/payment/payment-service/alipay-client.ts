import { AlipaySdk } from "alipay-sdk";

export interface AlipayConfig {
  appId: string;
  /** The merchant's seller id (PID, "2088…"): notifies must name it. */
  sellerId: string;
  /** The merchant's private key (PKCS#8 PEM). */
  privateKey: string;
  /** Alipay's public key: verifies answers and notifies. */
  alipayPublicKey: string;
  /** The open-API URL: https://openapi.alipay.com/gateway.do in production, the sandbox's here. */
  gateway: string;
}

export type TradeStatus = "WAIT_BUYER_PAY" | "TRADE_CLOSED" | "TRADE_SUCCESS" | "TRADE_FINISHED";

export interface TradeView {
  tradeNo: string;
  status: TradeStatus;
  totalAmount: string;
}

/** TRADE_FINISHED is paid too: it is TRADE_SUCCESS once the refund period is over (or for no-refund products). */
export const isPaid = (status: string) => status === "TRADE_SUCCESS" || status === "TRADE_FINISHED";

/** An answer that says nothing about the trade (ACQ.SYSTEM_ERROR, HTTP 5xx, bad signature): ask again later. */
export class AlipayUnavailableError extends Error {}

/**
 * The calls the payment service makes, through the official SDK. Nothing here knows it
 * talks to a sandbox: point `gateway` at Alipay and use real keys, and it is production code.
 */
export class AlipayClient {
  readonly sdk: AlipaySdk;

  constructor(config: AlipayConfig) {
    this.sdk = new AlipaySdk({
      appId: config.appId,
      privateKey: config.privateKey,
      alipayPublicKey: config.alipayPublicKey,
      keyType: "PKCS8",
      gateway: config.gateway,
      // Keep Alipay's own field names (trade_status, sub_code) rather than camelCased copies.
      camelcase: false,
    });
  }

  /** The cashier URL to send the shopper to (alipay.trade.page.pay, signed, as a GET link). */
  pagePayUrl(trade: {
    outTradeNo: string;
    totalAmount: string;
    subject: string;
    timeExpire: string;
    notifyUrl: string;
    returnUrl: string;
  }): string {
    return this.sdk.pageExecute("alipay.trade.page.pay", "GET", {
      bizContent: {
        out_trade_no: trade.outTradeNo,
        total_amount: trade.totalAmount,
        subject: trade.subject,
        product_code: "FAST_INSTANT_TRADE_PAY",
        // After this instant Alipay takes no money for the trade; closing it after that is then safe
        // even if the shopper never opened the page (the close answers ACQ.TRADE_NOT_EXIST).
        time_expire: trade.timeExpire,
      },
      notifyUrl: trade.notifyUrl,
      returnUrl: trade.returnUrl,
    });
  }

  /** alipay.trade.query. null: ACQ.TRADE_NOT_EXIST (the shopper has not opened the cashier yet). */
  async query(outTradeNo: string): Promise<TradeView | null> {
    const answer = await this.call("alipay.trade.query", outTradeNo);
    if (answer.code === "10000") {
      return { tradeNo: answer.trade_no, status: answer.trade_status, totalAmount: answer.total_amount };
    }
    if (answer.sub_code === "ACQ.TRADE_NOT_EXIST") return null;
    throw new AlipayUnavailableError(
      `alipay.trade.query ${outTradeNo}: ${answer.sub_code ?? answer.code} ${answer.sub_msg ?? answer.msg}`,
    );
  }

  /**
   * alipay.trade.close. "closed": it was WAIT_BUYER_PAY and is now TRADE_CLOSED. "not-exist":
   * never opened. "not-open": already paid or closed (ACQ.TRADE_STATUS_ERROR) — query to learn which.
   */
  async close(outTradeNo: string): Promise<"closed" | "not-exist" | "not-open"> {
    const answer = await this.call("alipay.trade.close", outTradeNo);
    if (answer.code === "10000") return "closed";
    if (answer.sub_code === "ACQ.TRADE_NOT_EXIST") return "not-exist";
    if (answer.sub_code === "ACQ.TRADE_STATUS_ERROR" || answer.sub_code === "ACQ.TRADE_HAS_CLOSE") return "not-open";
    throw new AlipayUnavailableError(
      `alipay.trade.close ${outTradeNo}: ${answer.sub_code ?? answer.code} ${answer.sub_msg ?? answer.msg}`,
    );
  }

  /**
   * alipay.trade.refund of `amount` under `outRequestNo`, Alipay's idempotency key: a repeat
   * (after a timeout, a crash, a redrive) refunds nothing more and answers the same. "refunded":
   * the money went back now or earlier; "refused": the trade cannot take it (not paid, past its
   * refund period, over the amount) — a person must look.
   */
  async refund(
    outTradeNo: string,
    amount: string,
    outRequestNo: string,
  ): Promise<{ state: "refunded"; fundChange: string } | { state: "refused"; why: string }> {
    const answer = await this.exec("alipay.trade.refund", {
      out_trade_no: outTradeNo,
      refund_amount: amount,
      out_request_no: outRequestNo,
      refund_reason: "order closed",
    });
    if (answer.code === "10000") return { state: "refunded", fundChange: answer.fund_change };
    if (answer.code === "40004" && answer.sub_code !== "ACQ.SYSTEM_ERROR")
      return { state: "refused", why: `${answer.sub_code} ${answer.sub_msg}` };
    throw new AlipayUnavailableError(
      `alipay.trade.refund ${outTradeNo}: ${answer.sub_code ?? answer.code} ${answer.sub_msg ?? answer.msg}`,
    );
  }

  /** alipay.trade.fastpay.refund.query: did the refund `outRequestNo` go through? */
  async refunded(outTradeNo: string, outRequestNo: string): Promise<boolean> {
    const answer = await this.exec("alipay.trade.fastpay.refund.query", {
      out_trade_no: outTradeNo,
      out_request_no: outRequestNo,
    });
    if (answer.code === "10000") return answer.refund_status === "REFUND_SUCCESS";
    if (answer.sub_code === "ACQ.TRADE_NOT_EXIST") return false;
    throw new AlipayUnavailableError(
      `refund query ${outRequestNo}: ${answer.sub_code ?? answer.code} ${answer.sub_msg ?? answer.msg}`,
    );
  }

  /** A notify is Alipay's only if its signature checks out with Alipay's public key. */
  verifyNotify(form: Record<string, string>): boolean {
    // V2 verifies the values as posted; V1 would URL-decode them a second time.
    return this.sdk.checkNotifySignV2(form);
  }

  private call(method: string, outTradeNo: string) {
    return this.exec(method, { out_trade_no: outTradeNo });
  }

  private async exec(method: string, bizContent: Record<string, string>) {
    try {
      // validateSign: an answer not signed by Alipay is no answer.
      return await this.sdk.exec(method, { bizContent }, { validateSign: true });
    } catch (error) {
      throw new AlipayUnavailableError(`${method} ${bizContent.out_trade_no}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

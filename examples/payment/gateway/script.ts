import type { Duration } from "checkback";

/**
 * How the sandbox behaves for one trade, set by a test or the demo before (or while) the
 * shopper pays: PUT /sandbox/scripts/:outTradeNo. Durations are business time (scaled by the
 * sandbox's speed). Nothing set means a well-behaved gateway and a shopper who only pays when
 * somebody presses the button.
 */
export interface TradeScript {
  /**
   * When the shopper pays: this long after opening the cashier page; "never" (they walk away);
   * `{ atQuery: n }` just as the merchant's n-th query of the open trade arrives (so its answer
   * already says paid); `{ afterQuery: n }` 5 s after the n-th query arrived; "at-close" just
   * as the merchant's alipay.trade.close arrives (a payment confirmed before time_expire that
   * completes just then: the last-moment payment a close must not lose).
   * The anchored forms line a payment up with the merchant's calls whatever the machine's speed.
   */
  pay?: Duration | "never" | "at-close" | { atQuery: number } | { afterQuery: number };
  /** Where a payment lands: TRADE_SUCCESS (refundable, the default) or TRADE_FINISHED (no refunds). */
  paidStatus?: "TRADE_SUCCESS" | "TRADE_FINISHED";
  /** Notify attempts dropped on the way ("all": every one, the merchant never hears). */
  lostNotifies?: number | "all";
  /** How long after the change the first notify attempt goes out (default at once). */
  notifyDelay?: Duration;
  /** Extra copies of a notify delivered after the merchant acknowledged it. */
  duplicateNotifies?: number;
  /** The next n API calls on this trade (query, close) answer ACQ.SYSTEM_ERROR. */
  systemErrors?: number;
  /** The next n alipay.trade.close calls on this trade answer ACQ.SYSTEM_ERROR. */
  closeErrors?: number;
  /** The next n alipay.trade.refund calls on this trade answer ACQ.SYSTEM_ERROR. */
  refundErrors?: number;
  /** The next n API calls on this trade answer HTTP 503. */
  unavailable?: number;
  /** Every API answer on this trade takes this long. */
  slowAnswers?: Duration;
}

const duration = {
  anyOf: [
    { type: "number", minimum: 0 },
    { type: "string", minLength: 1 },
  ],
};

/** JSON schema for the sandbox's control route: a typo in a script is a 400, not a silent default. */
export const tradeScriptSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    pay: {
      anyOf: [
        ...duration.anyOf,
        { const: "never" },
        { const: "at-close" },
        {
          type: "object",
          additionalProperties: false,
          required: ["atQuery"],
          properties: { atQuery: { type: "integer", minimum: 1 } },
        },
        {
          type: "object",
          additionalProperties: false,
          required: ["afterQuery"],
          properties: { afterQuery: { type: "integer", minimum: 1 } },
        },
      ],
    },
    paidStatus: { enum: ["TRADE_SUCCESS", "TRADE_FINISHED"] },
    lostNotifies: { anyOf: [{ type: "integer", minimum: 0 }, { const: "all" }] },
    notifyDelay: duration,
    duplicateNotifies: { type: "integer", minimum: 0, maximum: 10 },
    systemErrors: { type: "integer", minimum: 0 },
    closeErrors: { type: "integer", minimum: 0 },
    refundErrors: { type: "integer", minimum: 0 },
    unavailable: { type: "integer", minimum: 0 },
    slowAnswers: duration,
  },
} as const;

import type { TradeScript } from "./gateway/script.js";

/**
 * A shopper's browser, in a few HTTP calls: place an order, follow "pay" to the cashier, and
 * (optionally) press the button. The demo and the end-to-end tests drive the system with it.
 */
export class Shopper {
  constructor(
    private readonly orderServiceUrl: string,
    private readonly gatewayUrl: string,
  ) {}

  async placeOrder(subject: string, amountCents: number): Promise<{ orderId: string; payUrl: string }> {
    const response = await fetch(`${this.orderServiceUrl}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subject, amountCents }),
    });
    if (response.status !== 201)
      throw new Error(`placing the order failed: ${response.status} ${await response.text()}`);
    const { order, payUrl } = (await response.json()) as { order: { id: string }; payUrl: string };
    return { orderId: order.id, payUrl };
  }

  /** Presses "Pay with Alipay" (a POST to the pay link); the payment service redirects to the cashier, not opened yet. */
  async checkout(payUrl: string): Promise<{ outTradeNo: string; cashierUrl: string }> {
    const response = await fetch(payUrl, { method: "POST", redirect: "manual" });
    const cashierUrl = response.headers.get("location");
    if (response.status !== 303 || !cashierUrl)
      throw new Error(`checkout failed: ${response.status} ${await response.text()}`);
    const bizContent = JSON.parse(new URL(cashierUrl).searchParams.get("biz_content") ?? "{}") as {
      out_trade_no: string;
    };
    return { outTradeNo: bizContent.out_trade_no, cashierUrl };
  }

  /** Closes the order before paying (the shopper changes their mind, or customer service closes it). */
  async cancel(orderId: string): Promise<number> {
    const response = await fetch(`${this.orderServiceUrl}/orders/${encodeURIComponent(orderId)}/cancel`, {
      method: "POST",
    });
    return response.status;
  }

  /** Tells the sandbox how this trade should behave (who pays when, what gets lost…). */
  async script(outTradeNo: string, script: TradeScript): Promise<void> {
    const response = await fetch(`${this.gatewayUrl}/sandbox/scripts/${encodeURIComponent(outTradeNo)}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(script),
    });
    if (!response.ok) throw new Error(`scripting the trade failed: ${response.status} ${await response.text()}`);
  }

  /** Opens the cashier page: from now on the trade exists at the gateway. */
  async openCashier(cashierUrl: string): Promise<void> {
    const response = await fetch(cashierUrl);
    if (!response.ok) throw new Error(`the cashier refused: ${response.status} ${await response.text()}`);
  }

  /** Presses "Pay"; returns where the cashier sends the browser back to (the return URL). */
  async pay(outTradeNo: string): Promise<string | null> {
    const response = await fetch(`${this.gatewayUrl}/cashier/${encodeURIComponent(outTradeNo)}/pay`, {
      method: "POST",
      redirect: "manual",
    });
    if (response.status !== 303 && response.status !== 200) throw new Error(`paying failed: ${response.status}`);
    return response.headers.get("location");
  }
}

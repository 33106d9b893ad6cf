import type { Trade } from "./trades.js";

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
  `<body style="font-family:sans-serif;max-width:32em;margin:3em auto">${body}</body></html>`;

/** The sandbox's stand-in for Alipay's cashier: what is being paid, and the two ways out. */
export function cashierPage(trade: Trade): string {
  const action = `/cashier/${encodeURIComponent(trade.outTradeNo)}`;
  return page(
    "Alipay sandbox cashier",
    `<h1>Pay ¥${escapeHtml(trade.totalAmount)}</h1>
<p>${escapeHtml(trade.subject)} — trade ${escapeHtml(trade.tradeNo)} (${escapeHtml(trade.status)})</p>
<form method="post" action="${action}/pay"><button>Pay</button></form>
<form method="post" action="${action}/leave"><button>Leave without paying</button></form>`,
  );
}

export function messagePage(title: string, text: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>`);
}

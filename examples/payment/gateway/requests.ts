import { parseAlipayTimestamp } from "../shared/sim-clock.js";
import { contentToSign, rsa2Verify } from "./signing.js";

/** A merchant the sandbox knows: its app id, the public key it uploaded, and its seller id (PID). */
export interface Merchant {
  appId: string;
  publicKey: string;
  sellerId: string;
}

export interface AlipayError {
  code: "40002" | "40004";
  msg: string;
  sub_code: string;
  sub_msg: string;
}

/** The open-API methods the sandbox answers (page.pay answers with the cashier page, not JSON). */
export const METHODS = new Set([
  "alipay.trade.page.pay",
  "alipay.trade.query",
  "alipay.trade.close",
  "alipay.trade.refund",
  "alipay.trade.fastpay.refund.query",
]);

/**
 * How a refused request is answered. The real gateway answers a request it cannot tie to a
 * method and app (no or unknown method, unknown app id, broken common parameters) with an
 * unsigned `{"error_response":{…}}`; a request it can tie to them, but whose signature does not
 * verify, inside `{method}_response`.
 */
export type Envelope = "error_response" | "method";

export type VerifiedRequest =
  | { ok: true; method: string; appId: string; biz: Record<string, unknown> }
  | { ok: false; method: string; envelope: Envelope; error: AlipayError };

const invalid = (sub_code: string, sub_msg: string): AlipayError => ({
  code: "40002",
  msg: "Invalid Arguments",
  sub_code,
  sub_msg,
});

export const businessError = (sub_code: string, sub_msg: string): AlipayError => ({
  code: "40004",
  msg: "Business Failed",
  sub_code,
  sub_msg,
});

const CHARSETS = new Set(["utf-8", "gbk", "gb2312"]);

/**
 * Checks an open-API request the way the real gateway does: a method it has, a known app id,
 * well-formed common parameters (timestamp "yyyy-MM-dd HH:mm:ss", version 1.0, format JSON, a
 * charset it speaks), RSA2, a signature over every other parameter made with that merchant's
 * key, and a JSON biz_content. `params` is the query string and the form body together.
 */
export function verifyRequest(params: Record<string, string>, merchants: Map<string, Merchant>): VerifiedRequest {
  const method = params.method ?? "";
  const refuse = (envelope: Envelope, error: AlipayError): VerifiedRequest => ({ ok: false, method, envelope, error });
  if (!method) return refuse("error_response", invalid("isv.missing-method", "缺少方法名参数"));
  if (!METHODS.has(method)) return refuse("error_response", invalid("isv.invalid-method", "不存在的方法名"));
  if (!params.app_id) return refuse("error_response", invalid("isv.missing-app-id", "缺少AppID参数"));
  const merchant = merchants.get(params.app_id);
  if (!merchant) return refuse("error_response", invalid("isv.invalid-app-id", "无效的AppID参数"));
  if (!params.timestamp) return refuse("error_response", invalid("isv.missing-timestamp", "缺少时间戳参数"));
  if (parseAlipayTimestamp(params.timestamp) === null)
    return refuse("error_response", invalid("isv.invalid-timestamp", "非法的时间戳参数"));
  if (!params.version) return refuse("error_response", invalid("isv.missing-version", "缺少版本参数"));
  if (params.version !== "1.0") return refuse("error_response", invalid("isv.invalid-parameter", "版本号错误"));
  if (params.format !== undefined && params.format.toUpperCase() !== "JSON")
    return refuse("error_response", invalid("isv.invalid-format", "无效的数据格式"));
  if (params.charset !== undefined && !CHARSETS.has(params.charset.toLowerCase()))
    return refuse("error_response", invalid("isv.invalid-charset", "字符集错误"));
  if (params.sign_type !== "RSA2") return refuse("method", invalid("isv.invalid-signature-type", "无效的签名类型"));
  if (!params.sign) return refuse("method", invalid("isv.missing-signature", "缺少签名参数"));
  if (!rsa2Verify(contentToSign(params), params.sign, merchant.publicKey)) {
    return refuse("method", invalid("isv.invalid-signature", "验签出错"));
  }
  let biz: unknown;
  try {
    biz = JSON.parse(params.biz_content ?? "{}");
  } catch {
    biz = null;
  }
  if (typeof biz !== "object" || biz === null || Array.isArray(biz)) {
    return refuse("method", invalid("isv.invalid-parameter", "biz_content 不是 JSON 对象"));
  }
  return { ok: true, method, appId: merchant.appId, biz: biz as Record<string, unknown> };
}

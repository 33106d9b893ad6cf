import { contentToSign, rsa2Verify } from "./signing.js";

/** A merchant the sandbox knows: its app id and the public key it uploaded. */
export interface Merchant {
  appId: string;
  publicKey: string;
}

export interface AlipayError {
  code: "40002" | "40004";
  msg: string;
  sub_code: string;
  sub_msg: string;
}

export type VerifiedRequest =
  | { ok: true; method: string; appId: string; biz: Record<string, unknown> }
  | { ok: false; method: string; error: AlipayError };

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

/**
 * Checks an open-API request the way the real gateway does: a known app id, RSA2, a signature
 * over every other parameter made with that merchant's key, and a JSON biz_content.
 * `params` is the query string and the form body together.
 */
export function verifyRequest(params: Record<string, string>, merchants: Map<string, Merchant>): VerifiedRequest {
  const method = params.method ?? "";
  const merchant = merchants.get(params.app_id ?? "");
  if (!merchant) return { ok: false, method, error: invalid("isv.invalid-app-id", "无效的AppID参数") };
  if (params.sign_type !== "RSA2")
    return { ok: false, method, error: invalid("isv.invalid-signature-type", "无效的签名类型") };
  if (!params.sign) return { ok: false, method, error: invalid("isv.missing-signature", "缺少签名参数") };
  if (!rsa2Verify(contentToSign(params), params.sign, merchant.publicKey)) {
    return { ok: false, method, error: invalid("isv.invalid-signature", "验签出错") };
  }
  let biz: unknown;
  try {
    biz = JSON.parse(params.biz_content ?? "{}");
  } catch {
    biz = null;
  }
  if (typeof biz !== "object" || biz === null || Array.isArray(biz)) {
    return { ok: false, method, error: businessError("ACQ.INVALID_PARAMETER", "biz_content 不是 JSON 对象") };
  }
  return { ok: true, method, appId: merchant.appId, biz: biz as Record<string, unknown> };
}

import { createSign, createVerify } from "node:crypto";

/**
 * Alipay's RSA2 scheme: sort the parameters by name, drop `sign` (and, for notifies, also
 * `sign_type`) and empty values, join them as `name=value` with `&`, sign the UTF-8 text with
 * SHA256withRSA, base64. Values are used as received — decoded once from the form or query
 * string, never decoded again.
 */
export function contentToSign(params: Record<string, string>, omit: readonly string[] = ["sign"]): string {
  return Object.keys(params)
    .filter((name) => !omit.includes(name) && params[name] !== "")
    .sort()
    .map((name) => `${name}=${params[name]}`)
    .join("&");
}

export function rsa2Sign(content: string, privateKey: string): string {
  return createSign("RSA-SHA256").update(content, "utf8").sign(privateKey, "base64");
}

export function rsa2Verify(content: string, signature: string, publicKey: string): boolean {
  try {
    return createVerify("RSA-SHA256").update(content, "utf8").verify(publicKey, signature, "base64");
  } catch {
    return false; // a malformed signature is a bad signature
  }
}

/**
 * A signed API answer: `{"alipay_trade_query_response":{…},"sign":"…"}`. The signature covers
 * the inner object's exact JSON text, which is why the body is assembled by hand here: the
 * merchant verifies the bytes it received, not a re-serialization.
 */
export function signedResponse(method: string, inner: object, privateKey: string): string {
  const key = `${method.replaceAll(".", "_")}_response`;
  const text = JSON.stringify(inner);
  return `{"${key}":${text},"sign":${JSON.stringify(rsa2Sign(text, privateKey))}}`;
}

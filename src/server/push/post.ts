import { SIGNATURE_HEADER, signBody } from "../signature.js";

/** Receivers' answers are read (to free the connection) but never kept beyond this. */
const MAX_ANSWER_BYTES = 64 * 1024;

export type PostFailureKind = "http_error" | "timeout" | "network_error";

export class PostFailure extends Error {
  constructor(
    message: string,
    readonly kind: PostFailureKind,
  ) {
    super(message);
  }
}

export interface SignedPost {
  url: string;
  secret: string;
  timeoutMs: number;
  /** JSON text, sent and signed exactly as is. */
  body: string;
  headers?: Record<string, string>;
  /** Aborts the request early (the job's lease was lost, the worker is closing). */
  signal?: AbortSignal;
}

/**
 * POSTs a signed JSON body and returns the answer's status and text (up to 64 KiB). Throws a
 * PostFailure for a non-2xx status, a timeout or a network error, so callers can count and
 * retry all three the same way. Redirects are not followed: they would send a signed request
 * somewhere the target's owner did not register.
 */
export async function postSigned(post: SignedPost): Promise<{ status: number; text: string }> {
  const timeout = AbortSignal.timeout(post.timeoutMs);
  let response: Response;
  let text: string;
  try {
    response = await fetch(post.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        [SIGNATURE_HEADER]: signBody(post.secret, post.body),
        ...post.headers,
      },
      body: post.body,
      redirect: "manual",
      signal: post.signal ? AbortSignal.any([timeout, post.signal]) : timeout,
    });
    text = await readLimited(response);
  } catch (error) {
    if (timeout.aborted) throw new PostFailure(`receiver did not answer within ${post.timeoutMs}ms`, "timeout");
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new PostFailure(`could not reach receiver: ${why}`, "network_error");
  }
  if (response.status < 200 || response.status > 299) {
    throw new PostFailure(`receiver answered ${response.status}`, "http_error");
  }
  return { status: response.status, text };
}

async function readLimited(response: Response): Promise<string> {
  if (!response.body) return "";
  const chunks: Uint8Array[] = [];
  let seen = 0;
  for await (const chunk of response.body) {
    seen += (chunk as Uint8Array).byteLength;
    // Leaving the loop cancels the rest of the stream.
    if (seen > MAX_ANSWER_BYTES) break;
    chunks.push(chunk as Uint8Array);
  }
  return Buffer.concat(chunks).toString("utf8");
}

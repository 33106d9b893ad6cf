import { SIGNATURE_HEADER, signBody, verifySignature } from "@checkback/client/signature";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/**
 * Calls between the order service and the payment service are signed the way checkback signs
 * its push deliveries (`checkback-signature: t=…,v1=HMAC-SHA256(secret, …)`), with a secret the
 * two share. The signed text is the method, the path and the body, so a signature made for one
 * call cannot be replayed on another route, and the timestamp inside it bounds replays in time.
 */
export class ServiceAuth {
  constructor(private readonly secret: string) {
    if (secret.length < 16) throw new Error("the service secret must be at least 16 characters");
  }

  /** fetch, signed; `body` is sent as JSON. */
  fetch(url: string, init: { method?: "GET" | "POST"; body?: unknown; timeoutMs?: number } = {}): Promise<Response> {
    const method = init.method ?? (init.body === undefined ? "GET" : "POST");
    const body = init.body === undefined ? "" : JSON.stringify(init.body);
    const { pathname, search } = new URL(url);
    return fetch(url, {
      method,
      headers: {
        [SIGNATURE_HEADER]: signBody(this.secret, signedText(method, `${pathname}${search}`, body)),
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body || undefined,
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    });
  }

  /** A fastify preHandler: refuses (401) a request not signed with the shared secret. */
  readonly guard = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const raw = (request as FastifyRequest & { rawBody?: string }).rawBody ?? "";
    const verified = verifySignature({
      secret: this.secret,
      body: signedText(request.method, request.url, raw),
      header: request.headers[SIGNATURE_HEADER] as string | undefined,
    });
    if (!verified.ok) await reply.code(401).send({ error: `unauthenticated: ${verified.reason}` });
  };
}

const signedText = (method: string, pathAndQuery: string, body: string) => `${method} ${pathAndQuery}\n${body}`;

/** JSON bodies parsed as usual, with the exact text kept for the signature check. */
export function keepRawJsonBodies(app: FastifyInstance): void {
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    (request as FastifyRequest & { rawBody?: string }).rawBody = body as string;
    try {
      done(null, body === "" ? {} : JSON.parse(body as string));
    } catch (error) {
      (error as Error & { statusCode?: number }).statusCode = 400;
      done(error as Error, undefined);
    }
  });
}

import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { CheckbackError, ValidationError } from "checkback";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/**
 * Every error leaves the server as { error: { code, message, details? } } with a status that
 * follows from the code, so clients branch on `code`, never on message text.
 */
export type ServerErrorCode =
  | "MALFORMED_JSON"
  | "MALFORMED_REQUEST"
  | "INVALID_URL"
  | "INVALID_REQUEST"
  | "REQUEST_TIMEOUT"
  | "URI_TOO_LONG"
  | "HEADERS_TOO_LARGE"
  | "BODY_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "PUSH_NOT_CONFIGURED"
  | "CHECK_NOT_FOUND"
  | "SWEEP_NOT_FOUND"
  | "SHUTTING_DOWN"
  | "INTERNAL";

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ServerErrorCode | string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Library error codes → HTTP status. Codes not listed fall back by error class. */
const STATUS_BY_CODE: Record<string, number> = {
  INVALID_DURATION: 400,
  INVALID_OPTION: 400,
  INVALID_PAYLOAD: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNKNOWN_QUEUE: 404,
  JOB_NOT_FOUND: 404,
  CHECK_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  SWEEP_NOT_FOUND: 404,
  LEASE_LOST: 409,
  INVALID_STATE: 409,
  STORE_CLOSED: 503,
  STORE_UNAVAILABLE: 503,
};

export function statusOf(error: CheckbackError): number {
  return STATUS_BY_CODE[error.code] ?? (error instanceof ValidationError ? 400 : 500);
}

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Turns fastify's own errors (parsing, validation, limits) into the same typed body. */
function fromFastify(error: FastifyError): { status: number; body: ErrorBody } | null {
  if (error.validation) {
    const details = {
      errors: error.validation.map((v) => ({ path: v.instancePath || "/", message: v.message ?? "is invalid" })),
    };
    return {
      status: 400,
      body: errorBody(
        "INVALID_REQUEST",
        `${error.validationContext ?? "request"} ${error.validation[0]?.instancePath ?? ""} ${error.validation[0]?.message ?? "is invalid"}`
          .replace(/\s+/g, " ")
          .trim(),
        details,
      ),
    };
  }
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { status: 400, body: errorBody("MALFORMED_JSON", error.message) };
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { status: 413, body: errorBody("BODY_TOO_LARGE", "request body is larger than the server accepts") };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { status: 415, body: errorBody("UNSUPPORTED_MEDIA_TYPE", "send JSON: Content-Type: application/json") };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return { status: 400, body: errorBody("INVALID_REQUEST", error.message) };
  }
  if (error instanceof SyntaxError) return { status: 400, body: errorBody("MALFORMED_JSON", error.message) };
  return null;
}

/**
 * Fastify's `frameworkErrors` option: errors raised while routing, before any handler or hook
 * (a path that is not valid percent-encoding, a path parameter over maxParamLength).
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let status: number;
  let body: ErrorBody;
  switch (error.code) {
    case "FST_ERR_BAD_URL":
      status = 400;
      body = errorBody("INVALID_URL", "the path is not valid percent-encoded UTF-8");
      break;
    case "FST_ERR_MAX_PARAM_LENGTH":
      status = 414;
      body = errorBody("URI_TOO_LONG", "a path segment is longer than the server accepts");
      break;
    default:
      status = 500;
      body = errorBody("INTERNAL", "internal error");
      request.log.error({ err: error }, "request failed");
  }
  void reply.status(status).send(body);
}

/**
 * Node's `clientError`: a request that never became one (unparsable HTTP, headers too large,
 * sent too slowly). There is no request object to reply through, so the answer is written to
 * the socket directly, in the same body shape, and the connection closed.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  let status: number;
  let body: ErrorBody;
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    status = 408;
    body = errorBody("REQUEST_TIMEOUT", "the request was not received in time");
  } else if (error.code === "HPE_HEADER_OVERFLOW") {
    status = 431;
    body = errorBody("HEADERS_TOO_LARGE", "the request headers are larger than the server accepts");
  } else {
    status = 400;
    body = errorBody("MALFORMED_REQUEST", "the request is not valid HTTP/1.1");
  }
  // A response already under way cannot be replaced; the connection just ends.
  const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (socket.writable && !answering) {
    const text = JSON.stringify(body);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    let status: number;
    let body: ErrorBody;
    if (error instanceof HttpError) {
      status = error.statusCode;
      body = errorBody(error.code, error.message, error.details);
    } else if (error instanceof CheckbackError) {
      status = statusOf(error);
      body = errorBody(error.code, error.message, error.details);
    } else {
      const mapped = fromFastify(error as FastifyError);
      if (mapped) {
        ({ status, body } = mapped);
      } else {
        const given = (error as FastifyError).statusCode;
        status = typeof given === "number" && given >= 400 && given < 500 ? given : 500;
        body = status === 500 ? errorBody("INTERNAL", "internal error") : errorBody("INVALID_REQUEST", error.message);
      }
    }
    if (status >= 500) request.log.error({ err: error }, "request failed");
    else request.log.debug({ code: body.error.code }, body.error.message);
    return reply.status(status).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    return reply.status(404).send(errorBody("NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`));
  });
}

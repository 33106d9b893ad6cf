import { CheckbackError, ValidationError } from "checkback";
import type { FastifyError, FastifyInstance } from "fastify";

/**
 * Every error leaves the server as { error: { code, message, details? } } with a status that
 * follows from the code, so clients branch on `code`, never on message text.
 */
export type ServerErrorCode =
  | "MALFORMED_JSON"
  | "INVALID_REQUEST"
  | "BODY_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "PUSH_NOT_CONFIGURED"
  | "CHECK_NOT_FOUND"
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

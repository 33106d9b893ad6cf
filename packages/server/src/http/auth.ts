import { createHash, timingSafeEqual } from "node:crypto";
import { invalidOption } from "checkback";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HttpError } from "./errors.js";

/**
 * Bearer tokens with scopes. read: look only (the routes open to any token, the dashboard's
 * reads). produce: add and change jobs; start, end and read checks.
 * consume: claim jobs and record their outcomes. admin: everything, including dead letters, push targets and
 * check definitions. A route names the scope it needs in its config; "any" means any known
 * token (reads of ordinary queues). docs/server.md has the table.
 */
export type Scope = "read" | "produce" | "consume" | "admin";
export type RouteScope = Scope | "any";

export const SCOPES: readonly Scope[] = ["read", "produce", "consume", "admin"];

export interface TokenGrant {
  token: string;
  scopes: Scope[];
}

/** Parses "tokA:produce,consume;tokB:admin" (the CHECKBACK_TOKENS form). */
export function parseTokens(text: string): TokenGrant[] {
  return text
    .split(";")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => {
      const colon = entry.lastIndexOf(":");
      if (colon <= 0) throw invalidOption(`a token entry looks like "token:scope,scope", got ${JSON.stringify(entry)}`);
      return validateGrant({ token: entry.slice(0, colon), scopes: entry.slice(colon + 1).split(",") });
    });
}

export function validateGrant(grant: { token: unknown; scopes: unknown }): TokenGrant {
  const { token, scopes } = grant;
  if (typeof token !== "string" || token.length < 8 || /\s/.test(token)) {
    throw invalidOption("a token is at least 8 characters without whitespace");
  }
  if (!Array.isArray(scopes) || scopes.length === 0) throw invalidOption("a token needs at least one scope");
  const clean = scopes.map((s) => (typeof s === "string" ? s.trim() : s));
  for (const scope of clean) {
    if (!SCOPES.includes(scope as Scope)) {
      throw invalidOption(`unknown scope ${JSON.stringify(scope)} (known: ${SCOPES.join(", ")})`);
    }
  }
  return { token, scopes: clean as Scope[] };
}

/**
 * Tokens are compared by their SHA-256 digests in constant time, so response timing says
 * nothing about how much of a guessed token was right.
 */
export class Authorizer {
  private readonly grants: { digest: Buffer; scopes: Set<Scope> }[];

  constructor(grants: TokenGrant[]) {
    this.grants = grants.map((g) => ({ digest: digest(g.token), scopes: new Set(g.scopes) }));
  }

  /** No tokens configured: every request is let through (the server warns at start). */
  get open(): boolean {
    return this.grants.length === 0;
  }

  check(request: FastifyRequest, needed: RouteScope | undefined): void {
    if (needed === undefined || this.open) return;
    const scopes = this.scopesOfRequest(request);
    if (needed === "any" || scopes.has("admin") || scopes.has(needed)) return;
    throw new HttpError(403, "FORBIDDEN", `this token lacks the ${needed} scope`, { needed });
  }

  /** The scopes of the request's bearer token (401 without a known one); every scope when the API is open. */
  scopesOfRequest(request: FastifyRequest): Set<Scope> {
    if (this.open) return new Set(SCOPES);
    const header = request.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new HttpError(401, "UNAUTHORIZED", "send Authorization: Bearer <token>");
    const scopes = this.scopesOf(match[1]!);
    if (!scopes) throw new HttpError(401, "UNAUTHORIZED", "unknown token");
    return scopes;
  }

  private scopesOf(token: string): Set<Scope> | null {
    const given = digest(token);
    let found: Set<Scope> | null = null;
    // Look at every grant, not just until the first match, for the same timing reason.
    for (const grant of this.grants) {
      if (timingSafeEqual(grant.digest, given)) found = grant.scopes;
    }
    return found;
  }
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/**
 * Writes each route's scope into its OpenAPI entry, so the published document says what every
 * route needs: `security: [{ bearer: ["produce"] }]` (the scope as a role, as OpenAPI 3.1
 * allows), `[{ bearer: [] }]` for any token, `[]` for open routes. A route that declares
 * neither a scope nor `security: []` stops the server at start: no route is open by accident.
 */
export function documentScopes(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const scope = route.config?.scope;
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    if (scope === undefined) {
      const open = Array.isArray(schema.security) && schema.security.length === 0;
      if (!open && schema.hide !== true) {
        throw new Error(
          `route ${route.method} ${route.url} declares no scope (config.scope, or schema.security: [] if open)`,
        );
      }
      return;
    }
    const needs =
      scope === "any" ? "any valid token" : scope === "admin" ? "the admin scope" : `the ${scope} scope (or admin)`;
    const description = typeof schema.description === "string" ? `${schema.description}\n\n` : "";
    route.schema = {
      ...schema,
      security: [{ bearer: scope === "any" ? [] : [scope] }],
      description: `${description}Needs ${needs}.`,
    };
  });
}

/**
 * The dashboard's one way to the server: JSON over fetch with the token as a bearer header.
 * The token is kept for the browser tab only (sessionStorage), never in a URL.
 */
const TOKEN_KEY = "checkback.token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

export async function api<T>(method: string, path: string, body?: unknown, token = savedToken()): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text === "" ? null : JSON.parse(text);
  if (!response.ok) {
    const error = parsed?.error ?? {};
    throw new ApiError(response.status, error.code ?? "HTTP_ERROR", error.message ?? `HTTP ${response.status}`);
  }
  return parsed as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => api<T>("POST", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);

export const q = encodeURIComponent;

export type JobState = "scheduled" | "active" | "completed" | "dead" | "cancelled";
export const JOB_STATES: JobState[] = ["scheduled", "active", "completed", "dead", "cancelled"];
export type Counts = Record<JobState, number>;

export interface Job {
  id: string;
  queue: string;
  key: string | null;
  payload: unknown;
  state: JobState;
  runAt: number;
  attempts: number;
  maxAttempts: number;
  group?: string | null;
  errors: { attempt: number; at: number; message: string }[];
  result: unknown;
  leaseExpiresAt?: number | null;
  createdAt?: number;
  updatedAt?: number;
}

export interface Page {
  jobs: Job[];
  next: string | null;
}

/** A queue's flow settings, as `GET /v1/queues` carries them (docs/flow-control.md). */
export interface FlowSettings {
  limit: { rate: number; perMs: number } | null;
  pausedUntil: number | null;
  tokens: number | null;
  groupLimits?: GroupLimits | null;
}

export interface GroupLimits {
  concurrency: number | null;
  limit: { rate: number; perMs: number } | null;
}

export interface GroupState {
  group: string;
  limits: GroupLimits;
  ownLimits: boolean;
  active: number;
  scheduled: number;
  pausedUntil: number | null;
  tokens: number | null;
}

export interface BusiestGroups {
  groups: GroupState[];
  activeGroups: number;
}

import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from "ioredis";
import { CheckbackError, StoreClosedError, StoreUnavailableError } from "../../core/errors.js";
import { loadIoredis } from "../drivers.js";

/**
 * Connection handling for the Redis store, in one place: how clients are opened, how long a
 * call may wait, and what a caller is told when Redis cannot be reached.
 *
 * ioredis by itself queues commands while it reconnects and retries them, so against a stopped
 * server a call hangs for many seconds and then fails with an error naming neither the server
 * nor the cause. Here:
 * - a call made while the connection is known to be down (it closed, or its last attempt failed)
 *   is refused at once, without being queued;
 * - a call waiting when the connection closes or fails is refused then — its reply is lost, so a
 *   write it carried may or may not have been applied (STORE_UNAVAILABLE means "unknown, retry");
 * - no call waits longer than `timeoutMs` for its reply (a server or network that never answers);
 * each refusal is a StoreUnavailableError naming the URL (never the password) and the cause,
 * and ioredis keeps reconnecting in the background, so calls succeed again once Redis is back.
 */
export const DEFAULT_TIMEOUT_MS = 5_000;

export interface RedisTarget {
  /** redis://… URL (single server) or seed nodes of a cluster; ignored with `client`. */
  url?: string;
  cluster?: { nodes: ClusterNode[]; options?: ClusterOptions };
  client?: Redis | Cluster;
  timeoutMs: number;
}

export interface OpenedClient {
  client: Redis | Cluster;
  /** Where it connects, for messages: the URL without its password. */
  where: string;
  ownsClient: boolean;
}

export function openRedisClient({ url, cluster, client, timeoutMs }: RedisTarget): OpenedClient {
  if (client) return { client, where: describeClient(client), ownsClient: false };
  const failFast = {
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    // Queued commands are refused at the first failed reconnection attempt, not after several,
    // and a command whose connection dropped is not sent again: it may have been applied.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1_000),
  } satisfies RedisOptions;
  if (cluster) {
    const tls = cluster.options?.redisOptions?.tls !== undefined;
    const where = `${tls ? "rediss" : "redis"}+cluster://${cluster.nodes.map(describeNode).join(",")}`;
    const opened = new (loadIoredis().Cluster)(cluster.nodes, {
      enableAutoPipelining: true,
      clusterRetryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1_000),
      ...cluster.options,
      redisOptions: { ...failFast, ...cluster.options?.redisOptions },
    });
    return { client: opened, where, ownsClient: true };
  }
  const target = url ?? "redis://127.0.0.1:6379";
  // Auto-pipelining: commands issued in the same event-loop turn share one write.
  const opened = new (loadIoredis().Redis)(target, { enableAutoPipelining: true, ...failFast });
  return { client: opened, where: redactUrl(target), ownsClient: true };
}

interface Watch {
  /** Why the connection is down, while it is; undefined once it is ready. */
  problem: string | undefined;
  /** Calls waiting for a reply on this connection: refused if it goes down. */
  pending: Set<(error: Error) => void>;
}

/** Sends a store's commands on its connections, refusing fast and clearly when Redis is out of reach. */
export class RedisGate {
  private readonly watches = new WeakMap<Redis | Cluster, Watch>();
  private closed = false;

  constructor(
    readonly where: string,
    private readonly timeoutMs: number,
  ) {}

  /** Follows a connection's state; its errors are recorded here rather than printed. */
  watch(client: Redis | Cluster): void {
    const watch: Watch = { problem: undefined, pending: new Set() };
    this.watches.set(client, watch);
    const down = (problem: string) => {
      watch.problem = problem;
      for (const fail of [...watch.pending]) fail(this.unavailable(problem));
    };
    client.on("error", (error: Error) => {
      if (client.status !== "ready") down(describeCause(error, this.where));
    });
    client.on("close", () => down(watch.problem ?? "the connection was closed"));
    client.on("ready", () => {
      watch.problem = undefined;
    });
  }

  /** Refuses every later call with STORE_CLOSED. */
  close(): void {
    this.closed = true;
  }

  ensureOpen(): void {
    if (this.closed) throw new StoreClosedError("redis");
  }

  /** Runs one command (or script) on `client`, with the rules above. */
  send<T>(client: Redis | Cluster, command: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError("redis"));
    const watch = this.watches.get(client);
    if (watch?.problem !== undefined && client.status !== "ready") {
      return Promise.reject(this.unavailable(watch.problem));
    }
    return new Promise<T>((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(timer);
        watch?.pending.delete(fail);
        reject(this.closed ? new StoreClosedError("redis") : error);
      };
      const timer = setTimeout(() => {
        const problem = watch?.problem;
        fail(this.unavailable(`no reply within ${this.timeoutMs} ms${problem ? ` (${problem})` : ""}`));
      }, this.timeoutMs);
      watch?.pending.add(fail);
      let sent: Promise<T>;
      try {
        sent = command();
      } catch (error) {
        fail(error as Error);
        return;
      }
      sent.then(
        (value) => {
          clearTimeout(timer);
          watch?.pending.delete(fail);
          resolve(value);
        },
        (error: Error) => fail(this.translate(error, watch)),
      );
    });
  }

  private translate(error: Error, watch: Watch | undefined): Error {
    if (error instanceof CheckbackError || !isConnectionError(error)) return error;
    return this.unavailable(watch?.problem ?? describeCause(error, this.where));
  }

  private unavailable(cause: string): StoreUnavailableError {
    return new StoreUnavailableError(`Redis at ${this.where} is unavailable: ${cause}`, {
      url: this.where,
      cause,
    });
  }
}

/** Errors that say the server could not be reached or answered, rather than that it refused the command. */
function isConnectionError(error: Error): boolean {
  const { name, message } = error;
  if (name === "MaxRetriesPerRequestError" || name === "ClusterAllFailedError") return true;
  if ((error as { syscall?: string }).syscall !== undefined) return true;
  if (name === "ReplyError") return /^(LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/.test(message);
  return (
    message === "Connection is closed." ||
    message === "Command timed out" ||
    message.startsWith("Stream isn't writeable") ||
    message.startsWith("None of startup nodes") ||
    message.startsWith("Cluster isn't ready") ||
    message.startsWith("Cluster is disconnect") ||
    message.startsWith("Ready check failed")
  );
}

function describeCause(error: Error, where: string): string {
  const node = (error as { lastNodeError?: Error }).lastNodeError;
  let cause = node ? `${error.message} ${node.message}` : error.message;
  if (/cluster support disabled/i.test(cause)) cause += " (this is not a Redis Cluster: use redis://)";
  if (where.startsWith("rediss") && /ETIMEDOUT|timed out/i.test(cause)) {
    cause += " (the TLS handshake did not complete: does this server speak TLS?)";
  }
  return cause;
}

function describeNode(node: ClusterNode): string {
  if (typeof node === "number") return `127.0.0.1:${node}`;
  if (typeof node === "string") return node;
  return `${node.host ?? "127.0.0.1"}:${node.port ?? 6379}`;
}

function describeClient(client: Redis | Cluster): string {
  if (isCluster(client)) return "the Redis Cluster of the client given to the store";
  const { host = "127.0.0.1", port = 6379, db = 0, tls } = client.options;
  return `${tls ? "rediss" : "redis"}://${host}:${port}${db ? `/${db}` : ""}`;
}

/** The URL without its password. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/** A Cluster client, told apart without loading the driver's classes (a client given to the store may come from another copy of ioredis). */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as Cluster).isCluster === true;
}

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Duration, parseDuration, type RateLimitInput } from "checkback";
import { type Gateway, startGateway } from "./gateway/server.js";
import { type OrderService, type OrderServiceOptions, startOrderService } from "./order-service/server.js";
import type { OrderTimeoutMode } from "./order-service/timeouts.js";
import { type PaymentService, type PaymentServiceOptions, startPaymentService } from "./payment-service/server.js";
import { type KeyPair, newKeyPair } from "./shared/keys.js";
import { SimClock } from "./shared/sim-clock.js";
import { type Log, silent } from "./shared/timeline.js";

export interface PaymentSystemOptions {
  /** Business time runs this many times faster than real time (default 1). */
  speed?: number;
  /** Where the two services keep their databases (default: a fresh temporary folder, removed on close). */
  dataDir?: string;
  /** Default "30m". */
  orderTimeout?: Duration;
  /** How timed-out orders are found: a delayed job per order or a scan every 20 s (default "queue"). */
  orderTimeoutMode?: OrderTimeoutMode;
  /** Default "15m"; must be shorter than the order timeout. */
  payWindow?: Duration;
  /** Attempts of a refund job before it goes dead (default 30). */
  refundAttempts?: number;
  /** The trade check's alipay.trade.query rate (default ALIPAY_QUERY_RATE: at most 495 in any second); null: none. */
  alipayQueryRate?: RateLimitInput | null;
  /** Key pairs to use instead of fresh ones (tests share one set: RSA key generation is slow). */
  keys?: { gateway: KeyPair; merchant: KeyPair };
  log?: Log;
}

export interface PaymentSystem {
  clock: SimClock;
  /** The freshly made keys; tests use the gateway's to forge notifies the payment service must refuse. */
  keys: { gateway: KeyPair; merchant: KeyPair };
  /** The secret the order and payment services sign their calls to each other with. */
  serviceSecret: string;
  gateway: Gateway;
  payment: PaymentService;
  order: OrderService;
  /** Stops one service; its databases stay. */
  stop(service: ServiceName): Promise<void>;
  /** Starts a stopped service again on the same port and databases, as after a restart. */
  start(service: ServiceName): Promise<void>;
  isRunning(service: ServiceName): boolean;
  close(): Promise<void>;
}

export type ServiceName = "payment" | "order" | "gateway";

/** The sandbox app id: Alipay's are 16 digits. */
export const SANDBOX_APP_ID = "2021000000000001";
/** The sandbox merchant's seller id (PID): Alipay's are 16 digits starting 2088. */
export const SANDBOX_SELLER_ID = "2088000000000001";

/**
 * Starts the gateway sandbox, the payment service and the order service on loopback, wired to
 * each other, on one business clock. Keys are made fresh for every start, in memory only.
 */
export async function startPaymentSystem(options: PaymentSystemOptions = {}): Promise<PaymentSystem> {
  const orderTimeout = options.orderTimeout ?? "30m";
  const payWindow = options.payWindow ?? "15m";
  // A payment window that outlasts the order would have shoppers paying for orders the business
  // already gave up on.
  if (parseDuration(payWindow) >= parseDuration(orderTimeout))
    throw new Error(`the payment window (${payWindow}) must be shorter than the order timeout (${orderTimeout})`);
  const clock = new SimClock(options.speed ?? 1);
  const log = options.log ?? silent;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "checkback-payment-"));
  const gatewayKeys = options.keys?.gateway ?? newKeyPair();
  const merchantKeys = options.keys?.merchant ?? newKeyPair();
  const [orderPort, paymentPort, gatewayPort] = await freePorts(3);
  const serviceSecret = randomBytes(32).toString("hex");
  const orderServiceUrl = `http://127.0.0.1:${orderPort}`;
  const paymentServiceUrl = `http://127.0.0.1:${paymentPort}`;

  const gatewayOptions = {
    keys: gatewayKeys,
    merchants: [{ appId: SANDBOX_APP_ID, publicKey: merchantKeys.publicKey, sellerId: SANDBOX_SELLER_ID }],
    clock,
    port: gatewayPort,
    dataDir,
    log,
  };
  const gateway = await startGateway(gatewayOptions);
  const paymentOptions: PaymentServiceOptions = {
    dataDir,
    port: paymentPort!,
    publicUrl: paymentServiceUrl,
    orderServiceUrl,
    alipay: {
      appId: SANDBOX_APP_ID,
      sellerId: SANDBOX_SELLER_ID,
      privateKey: merchantKeys.privateKey,
      alipayPublicKey: gatewayKeys.publicKey,
      gateway: `${gateway.url}/gateway.do`,
    },
    serviceSecret,
    clock,
    payWindow,
    refundAttempts: options.refundAttempts,
    alipayQueryRate: options.alipayQueryRate,
    log,
  };
  const orderOptions: OrderServiceOptions = {
    dataDir,
    port: orderPort!,
    paymentServiceUrl,
    serviceSecret,
    clock,
    orderTimeout,
    orderTimeoutMode: options.orderTimeoutMode,
    log,
  };

  const stopped = new Set<ServiceName>();
  const system: PaymentSystem = {
    clock,
    keys: { gateway: gatewayKeys, merchant: merchantKeys },
    serviceSecret,
    gateway,
    payment: await startPaymentService(paymentOptions),
    order: await startOrderService(orderOptions),
    async stop(service) {
      if (stopped.has(service)) return;
      stopped.add(service);
      await system[service].close();
    },
    async start(service) {
      if (!stopped.delete(service)) return;
      if (service === "payment") system.payment = await startPaymentService(paymentOptions);
      else if (service === "order") system.order = await startOrderService(orderOptions);
      else system.gateway = await startGateway(gatewayOptions);
    },
    isRunning: (service) => !stopped.has(service),
    async close() {
      await system.stop("order");
      await system.stop("payment");
      await system.stop("gateway");
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return system;
}

/** Ports the OS has just handed out, so the services can know each other's URLs before they listen. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolve) =>
          server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
        ),
    ),
  );
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

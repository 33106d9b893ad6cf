import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duration } from "checkback";
import { type Gateway, startGateway } from "./gateway/server.js";
import { type OrderService, type OrderServiceOptions, startOrderService } from "./order-service/server.js";
import { type PaymentService, type PaymentServiceOptions, startPaymentService } from "./payment-service/server.js";
import { type KeyPair, newKeyPair } from "./shared/keys.js";
import { SimClock } from "./shared/sim-clock.js";
import { type Log, silent } from "./shared/timeline.js";

export interface PaymentSystemOptions {
  /** Business time runs this many times faster than real time (default 1). */
  speed?: number;
  /** Where the two services keep their databases (default: a fresh temporary folder, removed on close). */
  dataDir?: string;
  orderTimeout?: Duration;
  payWindow?: Duration;
  /** Key pairs to use instead of fresh ones (tests share one set: RSA key generation is slow). */
  keys?: { gateway: KeyPair; merchant: KeyPair };
  log?: Log;
}

export interface PaymentSystem {
  clock: SimClock;
  /** The freshly made keys; tests use the gateway's to forge notifies the payment service must refuse. */
  keys: { gateway: KeyPair; merchant: KeyPair };
  gateway: Gateway;
  payment: PaymentService;
  order: OrderService;
  /** Stops one service; its databases stay. */
  stop(service: "payment" | "order"): Promise<void>;
  /** Starts a stopped service again on the same port and databases, as after a restart. */
  start(service: "payment" | "order"): Promise<void>;
  close(): Promise<void>;
}

/** The sandbox app id: Alipay's are 16 digits. */
export const SANDBOX_APP_ID = "2021000000000001";

/**
 * Starts the gateway sandbox, the payment service and the order service on loopback, wired to
 * each other, on one business clock. Keys are made fresh for every start, in memory only.
 */
export async function startPaymentSystem(options: PaymentSystemOptions = {}): Promise<PaymentSystem> {
  const clock = new SimClock(options.speed ?? 1);
  const log = options.log ?? silent;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "checkback-payment-"));
  const gatewayKeys = options.keys?.gateway ?? newKeyPair();
  const merchantKeys = options.keys?.merchant ?? newKeyPair();
  const [orderPort, paymentPort] = await freePorts(2);
  const orderServiceUrl = `http://127.0.0.1:${orderPort}`;
  const paymentServiceUrl = `http://127.0.0.1:${paymentPort}`;

  const gateway = await startGateway({
    keys: gatewayKeys,
    merchants: [{ appId: SANDBOX_APP_ID, publicKey: merchantKeys.publicKey }],
    clock,
    log,
  });
  const paymentOptions: PaymentServiceOptions = {
    dataDir,
    port: paymentPort!,
    publicUrl: paymentServiceUrl,
    orderServiceUrl,
    alipay: {
      appId: SANDBOX_APP_ID,
      privateKey: merchantKeys.privateKey,
      alipayPublicKey: gatewayKeys.publicKey,
      gateway: `${gateway.url}/gateway.do`,
    },
    clock,
    payWindow: options.payWindow,
    log,
  };
  const orderOptions: OrderServiceOptions = {
    dataDir,
    port: orderPort!,
    paymentServiceUrl,
    clock,
    orderTimeout: options.orderTimeout,
    log,
  };

  const stopped = new Set<"payment" | "order">();
  const system: PaymentSystem = {
    clock,
    keys: { gateway: gatewayKeys, merchant: merchantKeys },
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
      else system.order = await startOrderService(orderOptions);
    },
    async close() {
      await system.stop("order");
      await system.stop("payment");
      await gateway.close();
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

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { OrderTimeoutMode } from "../../examples/payment/order-service/timeouts.js";
import { waitFor } from "../../examples/payment/shared/wait-for.js";
import { Harness } from "./payment-harness.js";

/**
 * The two ways of finding timed-out orders, beyond what the scenarios in both modes show: the
 * scan walks more than one page, and switching the mode on the same data loses no order.
 * Speed 600: the 30-minute order timeout passes in 3 s; the scan runs every real second.
 */
describe("payment example: order timeouts by queue and by scan", () => {
  let harness: Harness | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const closedLines = (log: string[], mode: OrderTimeoutMode) =>
    log.filter((line) => line.includes("closed: unpaid at its timeout") && line.endsWith(`; ${mode})`));

  test("the scan closes every timed-out order across several pages, each once", async () => {
    const log: string[] = [];
    harness = await Harness.start({ speed: 600, orderTimeoutMode: "scan", log: (_, text) => log.push(text) });
    // More than the scan's page of 100, none ever paid.
    const ids: string[] = [];
    for (let i = 0; i < 130; i++) ids.push((await harness.shopper.placeOrder(`book ${i}`, 100 + i)).orderId);

    const orders = harness.system.order.orders;
    await waitFor(
      () => ids.filter((id) => orders.get(id)?.status !== "CLOSED").length,
      (open) => open === 0,
      20_000,
    );
    const closed = closedLines(log, "scan");
    expect(closed).toHaveLength(ids.length);
    expect(new Set(closed).size).toBe(ids.length);
    for (const id of ids)
      expect(orders.get(id)!.updatedAt - orders.get(id)!.createdAt).toBeGreaterThanOrEqual(30 * 60_000);
  });

  test("switching the mode on the same data: orders created under the other mode still time out", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "checkback-payment-modes-"));
    dirs.push(dataDir);
    const log: string[] = [];
    const start = (orderTimeoutMode: OrderTimeoutMode) =>
      Harness.start({ speed: 600, dataDir, orderTimeoutMode, log: (_, text) => log.push(text) });
    const closedNow = (orderId: string) =>
      waitFor(
        () => harness!.system.order.orders.get(orderId)?.status,
        (status) => status === "CLOSED",
      );

    // Created under the scan (no job), then the services restart with the delay queue: the
    // order gets a job at start and closes by it.
    harness = await start("scan");
    const fromScan = (await harness.shopper.placeOrder("a book", 8800)).orderId;
    await harness.close();
    harness = await start("queue");
    await closedNow(fromScan);
    expect(closedLines(log, "queue").filter((line) => line.includes(fromScan))).toHaveLength(1);

    // Created under the delay queue (a job), then back to the scan: it closes, once.
    const fromQueue = (await harness.shopper.placeOrder("a lamp", 12900)).orderId;
    await harness.close();
    harness = await start("scan");
    await closedNow(fromQueue);
    expect(log.filter((line) => line.includes(`${fromQueue} closed: unpaid at its timeout`))).toHaveLength(1);
  });
});

import { existsSync, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, type Receiver, startReceiver, startTestServer, type TestServer } from "../server/helpers.js";
import { waitFor } from "../support/wait.js";
import { lowContrastText, unlabelledControls } from "./a11y.js";

/**
 * The dashboard in a real browser (Debian's chromium, driven by playwright-core; never a browser
 * download) against the real server on a SQLite file: every page clicked through, a dead letter
 * redriven, a job rescheduled, a schedule triggered, a count seen changing without a reload, the token gate (a read
 * token looks but cannot act), accessibility basics. The screenshots go to docs/dashboard/,
 * which docs/dashboard.md shows.
 */
const CHROMIUM = process.env.CHECKBACK_CHROMIUM ?? "/usr/bin/chromium";
const ADMIN = "dashboard-admin-token";
const READER = "dashboard-read-token";
// The screenshots shown in docs/dashboard.md are refreshed with CHECKBACK_SCREENSHOTS=1; an
// ordinary run writes them to a temporary folder, so running the tests leaves the tree clean.
const SHOTS =
  process.env.CHECKBACK_SCREENSHOTS === "1"
    ? join(import.meta.dirname, "..", "..", "docs", "dashboard")
    : join(tmpdir(), `checkback-dashboard-shots-${process.pid}`);
const available = existsSync(CHROMIUM);
if (!available && process.env.CI === "true") throw new Error(`${CHROMIUM} is missing (.ci/run installs chromium)`);

let dir: string;
let server: TestServer;
let admin: Api;
let browser: Browser;
const receivers: Receiver[] = [];

async function seed(): Promise<void> {
  // orders: 25 jobs due in an hour (two pages of 20).
  const jobs = Array.from({ length: 25 }, (_, i) => ({
    payload: { order: `A-${1000 + i}` },
    key: `order-${1000 + i}`,
    delay: "1h",
  }));
  expect((await admin.post("/v1/queues/orders/jobs/bulk", { jobs })).status).toBe(201);
  // payments: ten handed out at once; seven complete, three fail for good (dead letters).
  const due = Array.from({ length: 10 }, (_, i) => ({ payload: { payment: i }, key: `pay-${i}`, attempts: 1 }));
  await admin.post("/v1/queues/payments/jobs/bulk", { jobs: due });
  const claimed = (await admin.post("/v1/queues/payments/claim", { limit: 10, lease: "30s" })).body.jobs;
  expect(claimed).toHaveLength(10);
  for (const [i, job] of claimed.entries()) {
    const path = `/v1/queues/payments/jobs/${job.id}`;
    if (i < 7) await admin.post(`${path}/complete`, { leaseToken: job.leaseToken, result: { ok: true } });
    else await admin.post(`${path}/fail`, { leaseToken: job.leaseToken, error: `card declined (${i})` });
  }
  // A check probed once, still pending; and a sweep over 120 records, run to its end.
  const probe = await startReceiver((_req, _body, res) =>
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "pending" })),
  );
  const callback = await startReceiver((_req, _body, res) => res.writeHead(200).end());
  const pages = await startReceiver((_req, body, res) => {
    const from = Number(JSON.parse(body).cursor ?? 0);
    const to = Math.min(120, from + 40);
    const items = Array.from({ length: to - from }, (_, i) => ({ id: from + i }));
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ items, next: to < 120 ? String(to) : null }));
  });
  const items = await startReceiver((_req, _body, res) => res.writeHead(204).end());
  receivers.push(probe, callback, pages, items);
  const check = { probeUrl: probe.url, callbackUrl: callback.url, schedule: ["200ms", "1h"], deadline: "2h" };
  expect((await admin.put("/v1/checks/payment-status", check)).status).toBe(200);
  for (const key of ["T-1001", "T-1002"]) await admin.post("/v1/checks/payment-status/start", { key, input: { key } });
  expect((await admin.put("/v1/sweeps/reindex", { pageUrl: pages.url, itemUrl: items.url, total: 120 })).status).toBe(
    200,
  );
  await admin.post("/v1/sweeps/reindex/start");
  await waitFor(async () => (await admin.get("/v1/sweeps/reindex")).body.state === "completed", 10_000);
  // Schedules: a nightly cron handing firings to "reports", and a paused interval.
  const nightly = { cron: "0 30 2 * * *", timezone: "Europe/Berlin", queue: "reports", payload: { report: "unpaid" } };
  expect((await admin.put("/v1/schedules/nightly-report", nightly)).status).toBe(201);
  expect((await admin.put("/v1/schedules/cleanup", { every: "15m", queue: "maintenance" })).status).toBe(201);
  expect((await admin.post("/v1/schedules/cleanup/pause")).status).toBe(200);
  await waitFor(
    async () =>
      (await admin.get("/v1/checks/payment-status/T-1001")).body.probes >= 1 &&
      (await admin.get("/v1/checks/payment-status/T-1002")).body.probes >= 1,
    10_000,
  );
}

beforeAll(async () => {
  if (!available) return;
  dir = await mkdtemp(join(tmpdir(), "checkback-dashboard-"));
  server = await startTestServer({
    store: `sqlite:${join(dir, "dashboard.db")}`,
    tokens: `${ADMIN}:admin;${READER}:read`,
  });
  admin = server.api.as(ADMIN);
  await seed();
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await Promise.all(receivers.map((r) => r.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function signIn(token: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(8_000);
  await page.goto(`${server.url}/ui`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  return page;
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function accessible(page: Page, what: string): Promise<void> {
  expect(await unlabelledControls(page), `${what}: controls without a label`).toEqual([]);
  expect(await lowContrastText(page), `${what}: text below AA contrast`).toEqual([]);
}

describe.skipIf(!available)("the dashboard in chromium", () => {
  it("asks for a token and refuses an unknown one", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 600 } });
    await page.goto(`${server.url}/ui`);
    await page.getByLabel("API token").fill("not-a-known-token");
    await page.getByRole("button", { name: "Open the dashboard" }).click();
    await page.getByRole("alert").filter({ hasText: "not known" }).waitFor();
    await shoot(page, "sign-in");
    await accessible(page, "sign-in");
    await page.close();
  });

  it("overview: counts by state, the hour's charts, alerts; a count changes live", async () => {
    const page = await signIn(ADMIN);
    const row = page.locator('[data-testid="queues"] tr[data-queue="payments"]');
    await expect.poll(() => row.locator('td[data-state="dead"]').textContent()).toBe("3");
    await expect.poll(() => row.locator('td[data-state="completed"]').textContent()).toBe("7");
    await page.getByText("Dead letters growing").first().waitFor();
    expect(await page.locator(".uplot").count()).toBe(2);
    await shoot(page, "overview");
    await accessible(page, "overview");

    // A job added elsewhere shows up without a reload.
    const scheduled = page.locator('[data-testid="queues"] tr[data-queue="orders"] td[data-state="scheduled"]');
    expect(await scheduled.textContent()).toBe("25");
    await admin.post("/v1/queues/orders/jobs", { payload: { order: "live" }, delay: "2h" });
    await expect.poll(() => scheduled.textContent(), { timeout: 8_000 }).toBe("26");
    await page.close();
  });

  it("keyboard: the skip link and the page links work without a mouse", async () => {
    const page = await signIn(ADMIN);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Jobs");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    expect(new URL(page.url()).hash).toBe("#/jobs");
    await page.close();
  });

  it("jobs: pages through a state, finds a job by key, reschedules it", async () => {
    const page = await signIn(ADMIN);
    await page.getByRole("link", { name: "Jobs" }).click();
    // The overview has a "Queue" select too: look for the page's own once it has replaced it.
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    await page.getByLabel("Queue").selectOption("orders");
    await expect.poll(() => page.locator('[data-testid="jobs"] tbody tr').count()).toBe(20);
    await shoot(page, "jobs");
    await accessible(page, "jobs");
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => page.locator('[data-testid="jobs"] tbody tr').count()).toBe(6);
    await page.getByRole("button", { name: "Previous page" }).click();
    await expect.poll(() => page.locator('[data-testid="jobs"] tbody tr').count()).toBe(20);

    await page.getByLabel("Find by id or key").fill("order-1003");
    await page.getByRole("button", { name: "Find" }).click();
    await page.getByRole("heading", { name: /^Job / }).waitFor();
    const job = (await admin.get("/v1/queues/orders/keys/order-1003")).body;
    expect(page.url()).toContain(`#/jobs/orders/${job.id}`);
    await page.getByText('"order": "A-1003"').waitFor();

    await page.getByLabel("New delay").fill("5m");
    await page.getByRole("button", { name: "Reschedule" }).click();
    await page.getByRole("status").filter({ hasText: "Rescheduled" }).waitFor();
    const moved = (await admin.get(`/v1/queues/orders/jobs/${job.id}`)).body;
    expect(moved.runAt).toBeLessThan(job.runAt - 50 * 60_000);
    expect(Math.abs(moved.runAt - (Date.now() + 5 * 60_000))).toBeLessThan(30_000);
    await shoot(page, "job");
    await accessible(page, "job");
    await page.close();
  });

  it("dead letters: select one, confirm, and it is redriven", async () => {
    const page = await signIn(ADMIN);
    await page.getByRole("link", { name: "Dead letters" }).click();
    await page.getByRole("heading", { name: "Dead letters" }).waitFor();
    await page.getByLabel("Queue").selectOption("payments");
    await expect.poll(() => page.locator('[data-testid="dead"] tbody tr').count()).toBe(3);
    await page.getByLabel("Filter by id, key or error").fill("(8)");
    await expect.poll(() => page.locator('[data-testid="dead"] tbody tr').count()).toBe(1);
    await page.getByLabel("Select every job shown").check();
    await shoot(page, "dead-letters");
    await accessible(page, "dead letters");
    await page.getByRole("button", { name: "Redrive selected (1)" }).click();
    const dialog = page.getByRole("dialog", { name: "Redrive dead jobs?" });
    await dialog.waitFor();
    await shoot(page, "dead-letters-confirm");
    await dialog.getByRole("button", { name: "Redrive 1" }).click();
    await page.getByRole("status").filter({ hasText: "Redrove 1" }).waitFor();
    const counts = (await admin.get("/v1/queues/payments/counts")).body;
    expect(counts).toMatchObject({ dead: 2, scheduled: 1 });
    expect((await admin.get("/v1/queues/payments/keys/pay-8")).body.state).toBe("scheduled");
    await page.close();
  });

  it("checks: running checks with their probe timelines; cancel one by hand", async () => {
    const page = await signIn(ADMIN);
    await page.getByRole("link", { name: "Checks" }).click();
    const table = page.locator('[data-testid="check-payment-status"]');
    await expect.poll(() => table.locator("tbody tr").count()).toBe(2);
    await table.locator(".probe-pending").first().waitFor();
    await shoot(page, "checks");
    await accessible(page, "checks");
    await page.getByRole("button", { name: "Cancel T-1002" }).click();
    await page.getByRole("status").filter({ hasText: "Cancelled T-1002" }).waitFor();
    expect((await admin.get("/v1/checks/payment-status/T-1002")).body.state).toBe("cancelled");
    await page.close();
  });

  it("sweeps: a finished run's progress; start is offered, cancel is not", async () => {
    const page = await signIn(ADMIN);
    await page.getByRole("link", { name: "Sweeps" }).click();
    const row = page.locator('[data-testid="sweeps"] tbody tr');
    await expect.poll(() => row.first().textContent()).toContain("completed");
    expect(await page.getByRole("progressbar", { name: "reindex progress" }).getAttribute("value")).toBe("120");
    expect(await page.getByRole("button", { name: "Start reindex" }).isEnabled()).toBe(true);
    expect(await page.getByRole("button", { name: "Cancel reindex" }).isDisabled()).toBe(true);
    await shoot(page, "sweeps");
    await accessible(page, "sweeps");
    await page.close();
  });

  it("schedules: next firings, live; trigger one and its firing appears; pause and resume", async () => {
    const page = await signIn(ADMIN);
    await page.getByRole("link", { name: "Schedules" }).click();
    const row = (name: string) => page.locator(`[data-testid="schedules"] tr[data-schedule="${name}"]`);
    await expect.poll(() => row("nightly-report").locator("ol.firings li").count()).toBe(5);
    expect(await row("nightly-report").textContent()).toContain("0 30 2 * * * (Europe/Berlin)");
    expect(await row("cleanup").locator(".badge").textContent()).toBe("paused");
    expect(await row("cleanup").textContent()).toContain("every 15 min");
    expect(await page.getByRole("button", { name: "Resume cleanup" }).isEnabled()).toBe(true);

    // A schedule defined elsewhere shows up without a reload.
    await admin.put("/v1/schedules/hourly-digest", { cron: "0 0 * * * *", queue: "reports" });
    await expect.poll(() => row("hourly-digest").count(), { timeout: 8_000 }).toBe(1);

    await page.getByRole("button", { name: "Trigger nightly-report" }).click();
    await page.getByRole("status").filter({ hasText: "Triggered nightly-report" }).waitFor();
    const firing = page.locator('[data-testid="triggered"] a').first();
    const [, id] = /firing (\S+)/.exec((await firing.textContent()) ?? "") ?? [];
    const job = (await admin.get(`/v1/queues/reports/jobs/${id}`)).body;
    expect(job.key).toMatch(/^nightly-report@/);
    expect(job.payload).toMatchObject({ schedule: "nightly-report", kind: "trigger", payload: { report: "unpaid" } });
    await shoot(page, "schedules");
    await accessible(page, "schedules");

    await page.getByRole("button", { name: "Pause nightly-report" }).click();
    await page.getByRole("status").filter({ hasText: "Paused nightly-report" }).waitFor();
    await expect.poll(() => row("nightly-report").locator(".badge").textContent()).toBe("paused");
    expect(await row("nightly-report").locator("ol.firings li").count()).toBe(0);
    expect((await admin.get("/v1/schedules/nightly-report")).body.state).toBe("paused");
    await page.getByRole("button", { name: "Resume nightly-report" }).click();
    await expect.poll(() => row("nightly-report").locator(".badge").textContent()).toBe("active");
    expect((await admin.get("/v1/schedules/nightly-report")).body.state).toBe("active");

    // The firing, in its queue, from the link.
    await firing.click();
    await page.getByRole("heading", { name: /^Job / }).waitFor();
    await page.getByText('"kind": "trigger"').waitFor();
    await page.close();
  });

  it("a read token looks but cannot act: buttons disabled, and the server refuses", async () => {
    const page = await signIn(READER);
    const job = (await admin.get("/v1/queues/orders/keys/order-1010")).body;
    await page.goto(`${server.url}/ui/#/jobs/orders/${job.id}`);
    await page.getByText('"order": "A-1010"').waitFor();
    for (const name of ["Reschedule", "Run now", "Cancel job"]) {
      expect(await page.getByRole("button", { name }).isDisabled(), name).toBe(true);
    }
    await page.getByRole("link", { name: "Dead letters" }).click();
    await page.getByText("needs a token with the admin scope").waitFor();
    await page.getByRole("link", { name: "Schedules" }).click();
    const trigger = page.getByRole("button", { name: "Trigger nightly-report" });
    await trigger.waitFor();
    expect(await trigger.isDisabled()).toBe(true);
    expect(await trigger.getAttribute("title")).toBe("needs a token with the produce scope");
    expect(await page.getByRole("button", { name: "Pause nightly-report" }).isDisabled()).toBe(true);
    // What the disabled button would have sent, sent anyway from the page with the read token.
    const status = await page.evaluate(
      async ({ id, token }) =>
        (
          await fetch(`/v1/queues/orders/jobs/${id}/reschedule`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: "{}",
          })
        ).status,
      { id: job.id, token: READER },
    );
    expect(status).toBe(403);
    expect((await admin.get(`/v1/queues/orders/jobs/${job.id}`)).body.runAt).toBe(job.runAt);
    await page.close();
  });
});

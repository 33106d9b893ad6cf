import type { Checkback } from "checkback";
import { Check } from "checkback";
import { resolveRateLimit } from "checkback/internal";
import { HttpError } from "../errors.js";
import type { ServerMetrics } from "../metrics.js";
import { OneAtATime } from "../one-at-a-time.js";
import { type HttpCheck, toCheckDefinition } from "./http-check.js";

/**
 * The HTTP checks this server runs: one library Check per definition kept in the settings,
 * each with its own worker probing and delivering outcomes. Redefining a check replaces its
 * worker; running checks keep going under the new definition (their state is in the store).
 */
export class CheckRegistry {
  private readonly checks = new Map<string, { check: Check; fingerprint: string }>();
  private readonly changes = new OneAtATime();

  constructor(
    private readonly checkback: Checkback,
    private readonly metrics: ServerMetrics,
    private readonly maxPayloadBytes: number,
  ) {}

  /** The checks defined here, by name. */
  names(): string[] {
    return [...this.checks.keys()].sort();
  }

  get(name: string): Check {
    const entry = this.checks.get(name);
    if (!entry) throw new HttpError(404, "CHECK_NOT_FOUND", `no check ${JSON.stringify(name)} is defined`, { name });
    return entry.check;
  }

  /** Validates a definition by building it (without a worker); throws the library's typed errors. */
  validate(name: string, http: HttpCheck): void {
    // The probe rate is checked here and kept only by define(): validating changes nothing.
    if (http.probeRate) resolveRateLimit(http.probeRate);
    new Check(
      name,
      this.checkback.store,
      { ...toCheckDefinition(name, http, this.metrics), worker: false, probeRate: undefined },
      this.settings(),
    );
  }

  define(name: string, http: HttpCheck): Promise<void> {
    return this.changes.run(() => this.defineNow(name, http));
  }

  /** Makes the running checks match the definitions kept in the store (other servers may change them). */
  sync(load: () => Promise<{ name: string; value: HttpCheck }[]>): Promise<void> {
    return this.changes.run(async () => {
      const wanted = await load();
      const names = new Set(wanted.map((w) => w.name));
      for (const [name, entry] of [...this.checks]) {
        if (!names.has(name)) {
          this.checks.delete(name);
          await entry.check.close();
        }
      }
      for (const { name, value } of wanted) {
        if (this.checks.get(name)?.fingerprint !== JSON.stringify(value)) await this.defineNow(name, value);
      }
    });
  }

  close(): Promise<void> {
    return this.changes.run(async () => {
      const all = [...this.checks.values()];
      this.checks.clear();
      await Promise.all(all.map((entry) => entry.check.close()));
    });
  }

  private async defineNow(name: string, http: HttpCheck): Promise<void> {
    const old = this.checks.get(name);
    if (old) await old.check.close();
    const check = new Check(name, this.checkback.store, toCheckDefinition(name, http, this.metrics), this.settings());
    this.checks.set(name, { check, fingerprint: JSON.stringify(http) });
  }

  private settings() {
    // Probe and outcome workers report through the library's hook (check outcomes among them).
    return { maxPayloadBytes: this.maxPayloadBytes, metrics: this.metrics.hook() };
  }
}

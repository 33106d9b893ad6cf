import type { Checkback, SweepStatus } from "checkback";
import { Sweep } from "checkback";
import { HttpError } from "../errors.js";
import { type HttpSweep, toSweepDefinition } from "./http-sweep.js";

/**
 * The HTTP sweeps this server runs: one library Sweep per definition kept in the settings, with
 * its runner and item worker. Redefining a sweep replaces them; a run in flight is released and
 * resumed from its checkpoint under the new definition (its state is in the store).
 */
export class SweepRegistry {
  private readonly sweeps = new Map<string, { sweep: Sweep; fingerprint: string }>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly checkback: Checkback,
    private readonly maxPayloadBytes: number,
  ) {}

  get(name: string): Sweep {
    const entry = this.sweeps.get(name);
    if (!entry) throw new HttpError(404, "SWEEP_NOT_FOUND", `no sweep ${JSON.stringify(name)} is defined`, { name });
    return entry.sweep;
  }

  names(): string[] {
    return [...this.sweeps.keys()].sort();
  }

  /** Every known sweep's status (for the list route and /metrics). */
  statuses(): Promise<SweepStatus[]> {
    return Promise.all(this.names().map((name) => this.get(name).status()));
  }

  /** Validates a definition by building it (without workers); throws the library's typed errors. */
  validate(name: string, http: HttpSweep): void {
    new Sweep(name, this.checkback.store, { ...toSweepDefinition(name, http), worker: false }, this.settings());
  }

  define(name: string, http: HttpSweep): Promise<void> {
    return this.exclusive(() => this.defineNow(name, http));
  }

  /** Makes the running sweeps match the definitions kept in the store (other servers may change them). */
  sync(load: () => Promise<{ name: string; value: HttpSweep }[]>): Promise<void> {
    return this.exclusive(async () => {
      const wanted = await load();
      const names = new Set(wanted.map((w) => w.name));
      for (const [name, entry] of [...this.sweeps]) {
        if (!names.has(name)) {
          this.sweeps.delete(name);
          await entry.sweep.close();
        }
      }
      for (const { name, value } of wanted) {
        if (this.sweeps.get(name)?.fingerprint !== JSON.stringify(value)) await this.defineNow(name, value);
      }
    });
  }

  close(): Promise<void> {
    return this.exclusive(async () => {
      const all = [...this.sweeps.values()];
      this.sweeps.clear();
      await Promise.all(all.map((entry) => entry.sweep.close()));
    });
  }

  private async defineNow(name: string, http: HttpSweep): Promise<void> {
    const old = this.sweeps.get(name);
    if (old) await old.sweep.close();
    const sweep = new Sweep(name, this.checkback.store, toSweepDefinition(name, http), this.settings());
    // Page errors are recorded on the run (status, runs); no unhandled 'error' events.
    this.sweeps.set(name, { sweep, fingerprint: JSON.stringify(http) });
  }

  private settings() {
    return { maxPayloadBytes: this.maxPayloadBytes };
  }

  private exclusive<T>(change: () => Promise<T>): Promise<T> {
    const run = this.chain.then(change);
    this.chain = run.then(
      () => {},
      () => {},
    );
    return run;
  }
}

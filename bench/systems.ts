import type { StoreKind } from "./stores.js";

/** The systems `npm run bench` drives: checkback on the chosen store, and the queues it is compared with. */
export type SystemName = "checkback" | "bullmq" | "pgboss";

export interface SystemChoice {
  store: StoreKind;
  /** pg-boss: fetch again at once when a batch came back full (see bench/runners/pgboss.ts). */
  pgbossRefetch: boolean;
}

/** pg-boss's lowest accepted polling interval (it asserts at least 500 ms); its runner uses it. */
export const PGBOSS_POLLING_INTERVAL_SECONDS = 0.5;

/** A system's column heading, for progress lines and for a run that failed before its runner could give its own. */
export function systemLabel(system: SystemName, { store, pgbossRefetch }: SystemChoice): string {
  switch (system) {
    case "bullmq":
      return "BullMQ";
    case "pgboss":
      return pgbossRefetch ? "pg-boss" : "pg-boss (polling only)";
    case "checkback":
      return `checkback (${store})`;
  }
}

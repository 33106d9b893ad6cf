/** Knobs shared by every scenario; the CLI fills them from its flags. */
export interface ScenarioSettings {
  /** Jobs in the burst scenario. */
  jobs: number;
  concurrency: number;
  /** Burst and light-load jobs get a random delay in [0, maxDelayMs]. */
  maxDelayMs: number;
  /** Jobs per addBulk call. */
  batch: number;
  /** Light load: single adds per second, for lightSeconds. */
  rate: number;
  lightSeconds: number;
  /** Far-future jobs in the pending scenario (the runner may pass a different count per system). */
  pending: number;
  /** Far-future jobs are due between farDelayMs and farDelayMs + one day. */
  farDelayMs: number;
}

/** Figures one scenario produced for one system; null where a figure does not apply. */
export type Metrics = Record<string, number | null>;

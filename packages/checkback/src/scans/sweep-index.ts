// The sweeps' public API (re-exported by the library's entry point).
export { Sweep } from "./sweep.js";
export { InvalidPageError } from "./sweep-page.js";
export type {
  SweepDefinition,
  SweepEvents,
  SweepItemContext,
  SweepPage,
  SweepPageContext,
  SweepRun,
  SweepRunState,
  SweepStatus,
} from "./sweep-types.js";

export { answers } from "./answer.js";
export { Check } from "./check.js";
export { HISTORY_LIMIT } from "./history.js";
export type {
  CheckDefinition,
  CheckOutcome,
  CheckSchedule,
  CheckState,
  CheckStatus,
  EndedBy,
  OutcomeContext,
  OutcomeHandler,
  ProbeAnswer,
  ProbeContext,
  ProbeRecord,
  Started,
} from "./types.js";

export type { MissedPolicy, ScheduleDefinition, StoredDefinition } from "./definition.js";
export { type Defined, type ScheduleInfo, Schedules } from "./schedules.js";
export type { Firing } from "./ticker.js";

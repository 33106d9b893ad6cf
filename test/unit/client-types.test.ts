import { describe, expectTypeOf, it } from "vitest";
import type { FlowSettings, Job, JobError, JobState } from "../../packages/checkback/src/index.js";
import type {
  FlowSettings as ApiFlowSettings,
  ApiJob,
  JobError as ApiJobError,
  JobState as ApiJobState,
} from "../../packages/client/src/client.js";

// The client declares the wire job itself so that it depends on nothing; the type-check
// (npm run typecheck) fails here the moment it drifts from the library's Job.
describe("the client's wire types", () => {
  it("are the library's job types", () => {
    expectTypeOf<ApiJob>().toEqualTypeOf<Job<unknown>>();
    expectTypeOf<ApiJob<{ n: number }>>().toEqualTypeOf<Job<{ n: number }>>();
    expectTypeOf<ApiJobState>().toEqualTypeOf<JobState>();
    expectTypeOf<ApiJobError>().toEqualTypeOf<JobError>();
    expectTypeOf<ApiFlowSettings>().toEqualTypeOf<FlowSettings>();
  });
});

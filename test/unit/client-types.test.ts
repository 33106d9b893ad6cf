import { describe, expectTypeOf, it } from "vitest";
import type {
  FlowSettings,
  GroupLimits,
  GroupLimitsInput,
  GroupState,
  Job,
  JobError,
  JobState,
} from "../../packages/checkback/src/index.js";
import type { Queue } from "../../packages/checkback/src/queue/queue.js";
import type {
  FlowSettings as ApiFlowSettings,
  GroupLimits as ApiGroupLimits,
  GroupLimitsInput as ApiGroupLimitsInput,
  GroupState as ApiGroupState,
  ApiJob,
  JobError as ApiJobError,
  JobState as ApiJobState,
  BusiestGroups,
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

  it("are the library's group types", () => {
    expectTypeOf<ApiGroupLimits>().toEqualTypeOf<GroupLimits>();
    expectTypeOf<ApiGroupLimitsInput>().toEqualTypeOf<GroupLimitsInput>();
    expectTypeOf<ApiGroupState>().toEqualTypeOf<GroupState>();
    expectTypeOf<BusiestGroups>().toEqualTypeOf<Awaited<ReturnType<Queue["busiestGroups"]>>>();
  });
});

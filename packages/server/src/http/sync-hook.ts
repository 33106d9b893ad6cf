import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";

/**
 * A request hook whose work is synchronous, written in fastify's callback style: every request
 * runs the hooks, and an async hook costs a promise and a turn of the microtask queue each time.
 * A throw from `work` is passed on as the request's error, as an async hook's rejection would be.
 */
export function syncHook(
  work: (request: FastifyRequest, reply: FastifyReply) => void,
): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  return (request, reply, done) => {
    try {
      work(request, reply);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  };
}

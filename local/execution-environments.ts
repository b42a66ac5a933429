/**
 * Lambda runs each invocation of a function alone in an execution environment, and concurrent invocations in separate
 * ones: what a function keeps at module level (its logger's per-request keys, a client's cache) is never shared by two
 * invocations under way. Locally, each concurrent invocation gets an instance of its own, made when none is idle, and
 * an instance is idle again once its invocation has returned (as an environment is, even after the caller stopped
 * waiting for it).
 *
 * @example
 * const fulfillment = inExecutionEnvironments(() => fulfillmentFunction(runtime));
 */
export function inExecutionEnvironments<Event, Context, Result>(
  create: () => (event: Event, context: Context) => Promise<Result>,
): (event: Event, context: Context) => Promise<Result> {
  const idle: ((event: Event, context: Context) => Promise<Result>)[] = [];
  return async (event, context) => {
    const instance = idle.pop() ?? create();
    try {
      return await instance(event, context);
    } finally {
      idle.push(instance);
    }
  };
}

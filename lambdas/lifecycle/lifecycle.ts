/** Lambda entry point of the lifecycle queue's consumer: wiring only, see `lifecycle-handler.ts`. */
import { lambdaRuntime } from '../core/function-runtime.ts';
import { lifecycleFunction } from './lifecycle-function.ts';

export const handler = lifecycleFunction(lambdaRuntime);

/** Lambda entry point of `POST /usage`: wiring only, see `usage-handler.ts`. */
import { lambdaRuntime } from '../core/function-runtime.ts';
import { usageFunction } from './usage-function.ts';

export const handler = usageFunction(lambdaRuntime);

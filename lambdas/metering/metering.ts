/** Lambda entry point of the hourly metering run: wiring only, see `metering-handler.ts`. */
import { lambdaRuntime } from '../core/function-runtime.ts';
import { meteringFunction } from './metering-function.ts';

export const handler = meteringFunction('metering', 'closed-hours', lambdaRuntime);

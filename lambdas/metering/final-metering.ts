/**
 * Lambda entry point of final metering (every minute, and at once on `Subscriber Ending`): wiring only, see
 * `metering-handler.ts`.
 */
import { lambdaRuntime } from '../core/function-runtime.ts';
import { meteringFunction } from './metering-function.ts';

export const handler = meteringFunction('final-metering', 'ending', lambdaRuntime);

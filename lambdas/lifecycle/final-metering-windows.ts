/**
 * Lambda entry point of the scheduled sweep that ends subscriptions whose final-metering window has passed:
 * EventBridge notifications open the window (`License Deprovisioned`) but never say it closed.
 */
import { lambdaRuntime } from '../core/function-runtime.ts';
import { finalMeteringWindowsFunction } from './final-metering-windows-function.ts';

export const handler = finalMeteringWindowsFunction(lambdaRuntime);

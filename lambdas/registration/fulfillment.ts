/** Lambda entry point of the fulfillment URL (`POST /fulfillment`): wiring only, see `fulfillment-handler.ts`. */
import { lambdaRuntime } from '../core/function-runtime.ts';
import { fulfillmentFunction } from './fulfillment-function.ts';

export const handler = fulfillmentFunction(lambdaRuntime);

/** Lambda entry point of the seller notifier (Subscribers table stream): wiring only. */
import { lambdaRuntime } from '../core/function-runtime.ts';
import { sellerNotifierFunction } from './seller-notifier-function.ts';

export const handler = sellerNotifierFunction(lambdaRuntime);

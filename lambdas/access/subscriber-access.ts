/** Lambda entry point of the access check (`GET /subscribers/{id}`): wiring only. */
import { lambdaRuntime } from '../core/function-runtime.ts';
import { subscriberAccessFunction } from './subscriber-access-function.ts';

export const handler = subscriberAccessFunction(lambdaRuntime);

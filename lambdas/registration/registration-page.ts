/** Lambda entry point of the registration page (`GET|POST /register`): wiring only, see `registration-page-handler.ts`. */
import { lambdaRuntime } from '../core/function-runtime.ts';
import { registrationPageFunction } from './registration-page-function.ts';

export const handler = registrationPageFunction(lambdaRuntime);

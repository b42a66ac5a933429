/** Lambda entry point of the hourly metering run: wiring only, see `metering-handler.ts`. */
import { meteringFunction } from './metering-function.ts';

export const handler = meteringFunction('metering', 'closed-hours');

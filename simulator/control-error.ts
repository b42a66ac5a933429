/** A control-API request the simulator refuses: answered with this status and `{ "error": code, "message" }`. */
import { SimulatorError } from './errors.ts';

export class ControlError extends SimulatorError {
  override readonly name = 'ControlError';

  constructor(
    readonly status: 400 | 404 | 405 | 409 | 413 | 500,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

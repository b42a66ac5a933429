/** A control-API request the simulator refuses: answered with this status and `{ "error": code, "message" }`. */
export class ControlError extends Error {
  constructor(
    readonly status: 400 | 404 | 405 | 409 | 413,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

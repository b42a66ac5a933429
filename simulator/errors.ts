/**
 * The simulator's own errors, each a `SimulatorError`, named with the `Error` suffix, with the failure it wraps as its
 * `cause`. What it answers to the AWS SDK clients are AWS's own errors (`AwsError`), not these.
 */
export class SimulatorError extends Error {
  override readonly name: string = 'SimulatorError';
}

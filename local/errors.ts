/**
 * The local stack's own errors, each a `LocalStackError`, named with the `Error` suffix, with the failure it wraps as
 * its `cause`. (`AwsError`, in `http/aws-json.ts`, is not one: it is an AWS service's error, answered on the wire.)
 */
export class LocalStackError extends Error {
  override readonly name: string = 'LocalStackError';
}

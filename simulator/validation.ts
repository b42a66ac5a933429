/**
 * Input shapes with the constraints of the service model, checked the way AWS's JSON services check them: a wrong
 * JSON type is a `SerializationException`; a missing required member or a broken length, range or pattern constraint
 * is a `ValidationException` whose message names the member and the constraint, e.g.
 * `1 validation error detected: Value '' at 'usageRecords.1.member.dimension' failed to satisfy constraint: Member
 * must have length greater than or equal to 1`.
 */
import { z } from 'zod';
import { serializationError, validationError } from '../local/http/aws-json.ts';

interface LengthConstraint {
  readonly min?: number;
  readonly max?: number;
}

export function stringMember(constraint: LengthConstraint & { readonly pattern?: RegExp } = {}) {
  let schema = z.string();
  if (constraint.min !== undefined) {
    schema = schema.min(constraint.min, {
      error: `Member must have length greater than or equal to ${constraint.min}`,
    });
  }
  if (constraint.max !== undefined) {
    schema = schema.max(constraint.max, { error: `Member must have length less than or equal to ${constraint.max}` });
  }
  if (constraint.pattern !== undefined) {
    schema = schema.regex(constraint.pattern, {
      error: `Member must satisfy regular expression pattern: ${constraint.pattern.source}`,
    });
  }
  return schema;
}

export function integerMember(range: { readonly min?: number; readonly max?: number } = {}) {
  let schema = z.number().int();
  if (range.min !== undefined) {
    schema = schema.min(range.min, { error: `Member must have value greater than or equal to ${range.min}` });
  }
  if (range.max !== undefined) {
    schema = schema.max(range.max, { error: `Member must have value less than or equal to ${range.max}` });
  }
  return schema;
}

/** Timestamps travel as epoch seconds, whole or fractional; see {@link instantOf}. */
export function timestampMember() {
  return z.number().finite();
}

/** The instant of an epoch-seconds timestamp; an Invalid Date when it is beyond what a date can hold. */
export function instantOf(epochSeconds: number): Date {
  return new Date(Math.round(epochSeconds * 1000));
}

export function listMember<T extends z.ZodType>(item: T, length: LengthConstraint = {}) {
  let schema = z.array(item);
  if (length.min !== undefined) {
    schema = schema.min(length.min, { error: `Member must have length greater than or equal to ${length.min}` });
  }
  if (length.max !== undefined) {
    schema = schema.max(length.max, { error: `Member must have length less than or equal to ${length.max}` });
  }
  return schema;
}

/** Parses an operation's input, throwing the AWS error a real endpoint would answer. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const violations: string[] = [];
  for (const issue of result.error.issues) {
    const missing = !('input' in issue) || issue.input === undefined;
    if (issue.code === 'invalid_type' && !missing) {
      // JSON reads a number past a double's range (1e400) as Infinity: a number still, but none a member can hold.
      const unreadable = typeof issue.input === 'number' && !Number.isFinite(issue.input);
      throw serializationError(
        unreadable
          ? `Number out of range at '${memberPath(issue.path)}'`
          : `Unexpected value type at '${memberPath(issue.path)}': expected ${issue.expected}`,
      );
    }
    const constraint = issue.code === 'invalid_type' ? 'Member must not be null' : issue.message;
    const value = missing ? 'null' : `'${renderValue(issue.input)}'`;
    violations.push(`Value ${value} at '${memberPath(issue.path)}' failed to satisfy constraint: ${constraint}`);
  }
  throw validationError(constraintViolations(violations));
}

/** The message AWS's JSON services give for a list of constraint violations. */
export function constraintViolations(violations: readonly string[]): string {
  const count = violations.length;
  return `${count} validation error${count === 1 ? '' : 's'} detected: ${violations.join('; ')}`;
}

/** `['UsageRecords', 0, 'Dimension']` becomes `usageRecords.1.member.dimension`; map keys such as `DIMENSION` stay. */
function memberPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment) => (typeof segment === 'number' ? `${segment + 1}.member` : camelCase(String(segment))))
    .join('.');
}

function camelCase(name: string): string {
  return /^[A-Z][a-z]/.test(name) ? name.charAt(0).toLowerCase() + name.slice(1) : name;
}

function renderValue(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    text = '(value too deeply nested to show)';
  }
  return text.length > 100 ? `${text.slice(0, 100)}...` : text;
}

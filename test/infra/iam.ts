/**
 * What a function's role may do, read back from the template as readable strings, so that a test can state a role's
 * permissions exactly, and ask whether it may act on an item of a given partition key (IAM's `dynamodb:LeadingKeys`).
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import type { ProjectFunction } from '../../lib/functions.ts';
import { getAtt, logicalIdOf, resourcesOfType } from './synthesis.ts';

export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

const asList = <T>(value: T | T[]) => (Array.isArray(value) ? value : [value]);

/** A resource reference as it appears in the strings `permissionsOf` answers. */
export const on = (resource: unknown) => JSON.stringify(resource);

export function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  const role = { Ref: roleLogicalId };
  return Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties['Roles'] as unknown[]).some((attached) => JSON.stringify(attached) === JSON.stringify(role)),
    )
    .flatMap((policy) => (policy.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement);
}

/**
 * The items a statement confines its actions to, by the `dynamodb:LeadingKeys` patterns every partition key of a
 * request must match (`ForAllValues:StringLike`, the key required: `Null` false); no other condition is expected.
 */
function partitionKeyPatterns(statement: Statement): string[] | undefined {
  if (statement.Condition === undefined) return undefined;
  expect(statement.Condition).toEqual({
    'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': expect.any(Array) as unknown },
    Null: { 'dynamodb:LeadingKeys': 'false' },
  });
  return statement.Condition['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] as string[];
}

/** Every (action, resource, items) the role's policies allow, as readable strings, sorted. */
export function permissionsOf(template: Template, roleLogicalId: string): string[] {
  return statementsOf(template, roleLogicalId)
    .flatMap((statement) => {
      expect(statement.Effect).toBe('Allow');
      const patterns = partitionKeyPatterns(statement);
      const items = patterns === undefined ? '' : ` for items ${patterns.join(' or ')}`;
      return asList(statement.Action).flatMap((action) =>
        asList(statement.Resource).map((resource) => `${action} on ${on(resource)}${items}`),
      );
    })
    .sort();
}

/** Whether IAM's `StringLike` matches: `*` any run of characters, `?` any one, the rest literally. */
function stringLike(pattern: string, value: string): boolean {
  const expression = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${expression}$`, 's').test(value);
}

/** Whether the role may do `action` on the item with this partition key of the table with this logical id. */
export function mayOnItem(
  template: Template,
  roleLogicalId: string,
  tableLogicalId: string,
  action: string,
  partitionKey: string,
): boolean {
  return statementsOf(template, roleLogicalId).some((statement) => {
    const onTable = asList(statement.Resource).some((resource) => on(resource) === on(getAtt(tableLogicalId, 'Arn')));
    const patterns = partitionKeyPatterns(statement);
    return (
      onTable &&
      asList(statement.Action).includes(action) &&
      (patterns === undefined || patterns.some((pattern) => stringLike(pattern, partitionKey)))
    );
  });
}

/** The role and log group of a project function, by logical id. */
export function partsOf(projectFunction: ProjectFunction) {
  return {
    functionId: logicalIdOf(projectFunction.lambda),
    roleId: logicalIdOf(projectFunction.node.findChild('Role')),
    logGroupId: logicalIdOf(projectFunction.node.findChild('Logs')),
  };
}

/** What every project function may do: write its own logs. */
export function writesOwnLogs(projectFunction: ProjectFunction): string[] {
  const logGroup = on(getAtt(partsOf(projectFunction).logGroupId, 'Arn'));
  return [`logs:CreateLogStream on ${logGroup}`, `logs:PutLogEvents on ${logGroup}`];
}

/** What a traced function may do besides (the default, `observability.tracing`): send its traces, on "*" (X-Ray). */
export const sendsTraces: readonly string[] = ['xray:PutTelemetryRecords on "*"', 'xray:PutTraceSegments on "*"'];

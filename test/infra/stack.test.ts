import { Template } from 'aws-cdk-lib/assertions';
import type { CfnElement } from 'aws-cdk-lib';
import { describe, expect, test } from 'vitest';
import type { SaasMarketplaceStack } from '../../lib/stack.ts';
import { configurationVariants, resourcesOfType, synthesize } from './synthesis.ts';
import {
  type KeyAttribute,
  subscribersTable,
  type TableDefinition,
  tableDefinitions,
  usageTable,
} from '../../contracts/index.ts';

const globalTable = 'AWS::DynamoDB::GlobalTable';

function logicalIdOf(stack: SaasMarketplaceStack, definition: TableDefinition): string {
  const table = stack.storage.node.findChild(definition.id);
  return stack.getLogicalId(table.node.defaultChild as CfnElement);
}

function tableResource(template: Template, logicalId: string): Record<string, unknown> {
  const resource = template.findResources(globalTable)[logicalId];
  if (resource === undefined) throw new Error(`no ${globalTable} with logical id ${logicalId}`);
  return resource;
}

function keySchema(partitionKey: KeyAttribute, sortKey?: KeyAttribute) {
  const hash = { AttributeName: partitionKey.name, KeyType: 'HASH' };
  return sortKey ? [hash, { AttributeName: sortKey.name, KeyType: 'RANGE' }] : [hash];
}

function keyAttributesOf(definition: TableDefinition): KeyAttribute[] {
  const indexKeys = definition.globalSecondaryIndexes.flatMap((index) =>
    index.sortKey ? [index.partitionKey, index.sortKey] : [index.partitionKey],
  );
  return [definition.partitionKey, definition.sortKey, ...indexKeys];
}

describe('with the cdk.json configuration', () => {
  const { stack, template } = synthesize();

  test('holds exactly one DynamoDB global table per definition and no other table', () => {
    template.resourceCountIs(globalTable, 2);
    template.resourceCountIs(globalTable, tableDefinitions.length);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  describe.each(tableDefinitions)('the $id table', (definition) => {
    const logicalId = logicalIdOf(stack, definition);
    const resource = () => tableResource(template, logicalId);

    test('has the key schema, indexes and TTL attribute of its definition', () => {
      const uniqueKeyAttributes = [...new Map(keyAttributesOf(definition).map((key) => [key.name, key])).values()];
      expect(resource()).toMatchObject({
        Properties: {
          KeySchema: keySchema(definition.partitionKey, definition.sortKey),
          AttributeDefinitions: expect.arrayContaining(
            uniqueKeyAttributes.map((key) => ({ AttributeName: key.name, AttributeType: key.type })),
          ) as unknown,
          GlobalSecondaryIndexes: definition.globalSecondaryIndexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: { ProjectionType: index.projection === 'all' ? 'ALL' : 'KEYS_ONLY' },
          })),
          TimeToLiveSpecification: { AttributeName: definition.timeToLiveAttribute, Enabled: true },
        },
      });
      const properties = resource()['Properties'] as { AttributeDefinitions: unknown[] };
      expect(properties.AttributeDefinitions).toHaveLength(uniqueKeyAttributes.length);
    });

    test('bills on demand and encrypts at rest with the AWS managed key', () => {
      const properties = resource()['Properties'] as Record<string, unknown>;
      expect(properties['BillingMode']).toBe('PAY_PER_REQUEST');
      // No KMSMasterKeyId: a key id here would mean a customer managed key rather than aws/dynamodb.
      expect(properties['SSESpecification']).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
    });

    test('keeps point-in-time recovery on, refuses deletion and is retained when the stack goes', () => {
      expect(resource()).toMatchObject({
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          Replicas: [
            {
              DeletionProtectionEnabled: true,
              PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            },
          ],
        },
      });
    });
  });

  // Written out literally so that a change to contracts/tables.ts shows up here as a decision, not as a silent pass.
  test('the Subscribers table has the literal key schema, live and ending indexes and TTL the code relies on', () => {
    template.hasResourceProperties(globalTable, {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'live',
          KeySchema: [
            { AttributeName: 'liveShard', KeyType: 'HASH' },
            { AttributeName: 'pk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: 'ending',
          KeySchema: [
            { AttributeName: 'endingShard', KeyType: 'HASH' },
            { AttributeName: 'finalMeteringDeadline', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  test('the Usage table has the literal pending index the metering run queries', () => {
    template.hasResourceProperties(globalTable, {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'pending',
          KeySchema: [
            { AttributeName: 'pendingShard', KeyType: 'HASH' },
            { AttributeName: 'pendingHour', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  test('outputs the name of each table', () => {
    template.hasOutput('SubscribersTableName', { Value: { Ref: logicalIdOf(stack, subscribersTable) } });
    template.hasOutput('UsageTableName', { Value: { Ref: logicalIdOf(stack, usageTable) } });
  });
});

describe('with removalPolicy destroy and deletion protection off', () => {
  const { template } = synthesize({
    'marketplace.tables.removalPolicy': 'destroy',
    'marketplace.tables.deletionProtection': 'false',
  });

  test('every table is deleted with the stack and accepts DeleteTable', () => {
    const tables = Object.values(template.findResources(globalTable));
    expect(tables).toHaveLength(tableDefinitions.length);
    for (const table of tables) {
      expect(table).toMatchObject({
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
        Properties: { Replicas: [{ DeletionProtectionEnabled: false }] },
      });
    }
  });
});

describe('log groups and encryption keys', () => {
  const { stack, forwarder } = synthesize(configurationVariants['every option at once']);
  const templates = [Template.fromStack(stack), ...(forwarder === undefined ? [] : [Template.fromStack(forwarder)])];
  const kept = templates.flatMap((template) =>
    ['AWS::Logs::LogGroup', 'AWS::KMS::Key'].flatMap((type) =>
      Object.entries(resourcesOfType(template, type)).map(([id, resource]) => ({
        resource: `${type} ${id}`,
        deletion: resource.DeletionPolicy,
        replacement: resource.UpdateReplacePolicy,
      })),
    ),
  );

  test('outlive the stack, except when the deploy that made them rolls back (nothing in them yet)', () => {
    expect(kept.length).toBeGreaterThanOrEqual(16);
    expect(kept.filter((entry) => entry.deletion !== 'RetainExceptOnCreate' || entry.replacement !== 'Retain')).toEqual(
      [],
    );
  });
});

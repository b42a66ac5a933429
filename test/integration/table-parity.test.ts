/**
 * The tables `npm start` and the tests get are the tables `cdk deploy` creates: the synthesized CloudFormation and
 * DynamoDB Local's own description of the local tables agree on keys, attribute types, indexes and TTL.
 */
import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { expect, test } from 'vitest';
import { buildApp } from '../../lib/app.ts';
import { exampleProductsAllowed } from '../../lib/example-products.ts';
import { cdkJsonContext } from '../../local/config.ts';
import { useDynamoDb } from '../support/dynamodb.ts';
import { scratchDirectory } from '../support/scratch-directory.ts';
import { tableDefinitions } from '../../contracts/index.ts';

const dynamoDb = useDynamoDb();

interface TableShape {
  readonly stream: string | undefined;
  readonly keySchema: unknown;
  readonly attributes: unknown;
  readonly indexes: unknown;
  readonly timeToLiveAttribute: string | undefined;
}

interface Key {
  readonly AttributeName?: string | undefined;
  readonly KeyType?: string | undefined;
}

/** The `AWS::DynamoDB::GlobalTable` properties this test compares. */
interface GlobalTableProperties {
  readonly KeySchema: Key[];
  readonly AttributeDefinitions: { AttributeName: string; AttributeType: string }[];
  readonly GlobalSecondaryIndexes?: { IndexName: string; KeySchema: Key[]; Projection: { ProjectionType: string } }[];
  readonly TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
  readonly StreamSpecification?: { StreamViewType: string };
}

const byName = <T>(items: readonly T[], name: (item: T) => string | undefined) =>
  [...items].sort((a, b) => String(name(a)).localeCompare(String(name(b))));
const keys = (schema: readonly Key[]) => schema.map(({ AttributeName, KeyType }) => ({ AttributeName, KeyType }));

test.each(tableDefinitions.map((definition) => definition.id))(
  '%s is the same in CloudFormation and locally',
  async (id) => {
    // Function bundles play no part in the tables: skip bundling them.
    const { stack } = buildApp(
      { ...cdkJsonContext(), ...exampleProductsAllowed, 'aws:cdk:bundling-stacks': [] },
      { outdir: await scratchDirectory('table-parity-') },
    );
    const cloud = cloudTable(stack, id);
    const local = await localTable(dynamoDb.tables[id]);
    expect(local).toEqual(cloud);
    expect(cloud.timeToLiveAttribute).toBeDefined();
  },
);

function cloudTable(stack: Stack, id: string): TableShape {
  const resources = Template.fromStack(stack).findResources('AWS::DynamoDB::GlobalTable');
  const [, resource] = Object.entries(resources).find(([logicalId]) => logicalId.startsWith(`Storage${id}`))!;
  const table = (resource as { Properties: GlobalTableProperties }).Properties;
  return {
    stream: table.StreamSpecification?.StreamViewType,
    keySchema: keys(table.KeySchema),
    attributes: byName(table.AttributeDefinitions, (attribute) => attribute.AttributeName),
    indexes: byName(table.GlobalSecondaryIndexes ?? [], (index) => index.IndexName).map((index) => ({
      IndexName: index.IndexName,
      KeySchema: keys(index.KeySchema),
      ProjectionType: index.Projection.ProjectionType,
    })),
    timeToLiveAttribute: table.TimeToLiveSpecification?.Enabled
      ? table.TimeToLiveSpecification.AttributeName
      : undefined,
  };
}

async function localTable(tableName: string): Promise<TableShape> {
  const { Table } = await dynamoDb.client.send(new DescribeTableCommand({ TableName: tableName }));
  const { TimeToLiveDescription } = await dynamoDb.client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  return {
    stream: Table!.StreamSpecification?.StreamEnabled ? Table!.StreamSpecification.StreamViewType : undefined,
    keySchema: keys(Table!.KeySchema!),
    attributes: byName(Table!.AttributeDefinitions!, (attribute) => attribute.AttributeName).map(
      ({ AttributeName, AttributeType }) => ({ AttributeName, AttributeType }),
    ),
    indexes: byName(Table!.GlobalSecondaryIndexes ?? [], (index) => index.IndexName).map((index) => ({
      IndexName: index.IndexName,
      KeySchema: keys(index.KeySchema!),
      ProjectionType: index.Projection?.ProjectionType,
    })),
    timeToLiveAttribute:
      TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED' ? TimeToLiveDescription.AttributeName : undefined,
  };
}

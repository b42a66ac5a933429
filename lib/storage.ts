/**
 * The project's DynamoDB tables, built from the shared definitions in `contracts/tables.ts` so the deployed tables and the
 * local ones cannot drift apart.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  Billing,
  ProjectionType,
  StreamViewType,
  TableEncryptionV2,
  TableV2,
  type Attribute,
} from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { Config } from './config.ts';
import { subscribersTable, usageTable, type KeyAttribute, type TableDefinition } from '../contracts/index.ts';

export interface StorageProps {
  readonly tables: Config['tables'];
}

const attributeTypes: Record<KeyAttribute['type'], AttributeType> = {
  S: AttributeType.STRING,
  N: AttributeType.NUMBER,
};

const removalPolicies: Record<Config['tables']['removalPolicy'], RemovalPolicy> = {
  retain: RemovalPolicy.RETAIN,
  destroy: RemovalPolicy.DESTROY,
};

export class Storage extends Construct {
  readonly subscribers: TableV2;
  readonly usage: TableV2;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    this.subscribers = this.tableFrom(subscribersTable, props.tables);
    this.usage = this.tableFrom(usageTable, props.tables);
  }

  private tableFrom(definition: TableDefinition, settings: Config['tables']): TableV2 {
    return new TableV2(this, definition.id, {
      partitionKey: toAttribute(definition.partitionKey),
      sortKey: toAttribute(definition.sortKey),
      globalSecondaryIndexes: definition.globalSecondaryIndexes.map((index) => ({
        indexName: index.indexName,
        partitionKey: toAttribute(index.partitionKey),
        sortKey: index.sortKey && toAttribute(index.sortKey),
        projectionType: index.projection === 'all' ? ProjectionType.ALL : ProjectionType.KEYS_ONLY,
      })),
      timeToLiveAttribute: definition.timeToLiveAttribute,
      ...(definition.stream === undefined ? {} : { dynamoStream: StreamViewType[definition.stream] }),
      // Sign-ups and the hourly metering run come in bursts between long idle gaps: provisioned capacity would either
      // sit unused or throttle the bursts.
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: settings.deletionProtection,
      removalPolicy: removalPolicies[settings.removalPolicy],
    });
  }
}

function toAttribute(key: KeyAttribute): Attribute {
  return { name: key.name, type: attributeTypes[key.type] };
}

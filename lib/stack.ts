/** The composition root: one stack holding one construct per capability, wired together from the validated config. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Config } from './config.ts';
import { Storage } from './storage.ts';

export interface SaasMarketplaceStackProps extends StackProps {
  readonly config: Config;
}

export class SaasMarketplaceStack extends Stack {
  readonly storage: Storage;

  constructor(scope: Construct, id: string, props: SaasMarketplaceStackProps) {
    super(scope, id, props);
    this.storage = new Storage(this, 'Storage', { tables: props.config.tables });

    new CfnOutput(this, 'SubscribersTableName', {
      description: 'DynamoDB table holding one item per subscriber (license)',
      value: this.storage.subscribers.tableName,
    });
    new CfnOutput(this, 'UsageTableName', {
      description: 'DynamoDB table holding hourly usage buckets and their metering ledger',
      value: this.storage.usage.tableName,
    });
  }
}

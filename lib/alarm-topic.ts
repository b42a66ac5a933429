/**
 * Where the alarms of a stack reach someone: one topic, encrypted with a key of its own, that every alarm of the stack
 * notifies when it goes off and when it clears, with the seller's email subscribed; and the seller's own topic (their
 * pager, their chat channel) notified beside it. An aspect adds both to every alarm in the stack when it is
 * synthesized, so that an alarm added later cannot be left out.
 */
import {
  Annotations,
  Arn,
  ArnFormat,
  Aspects,
  AspectPriority,
  Aws,
  CfnOutput,
  CfnRule,
  Fn,
  Stack,
  Token,
  type IAspect,
} from 'aws-cdk-lib';
import { Alarm, type IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct, type IConstruct } from 'constructs';
import type { Config } from './config.ts';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import { KEPT_ONCE_DEPLOYED } from './log-retention.ts';

export type AlarmRecipients = Pick<Config['observability'], 'alarmEmail' | 'alarmTopicArn'>;

export class AlarmTopic extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, recipients: AlarmRecipients) {
    super(scope, id);
    const stack = Stack.of(this);
    const key = new Key(this, 'Key', {
      description: `Encrypts the alarm notifications of ${stack.stackName} while SNS holds them`,
      enableKeyRotation: true,
      removalPolicy: KEPT_ONCE_DEPLOYED,
    });
    this.topic = new Topic(this, 'Topic', {
      displayName: `${stack.stackName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    // CloudWatch publishes for the alarms of this stack alone (their names start with the stack's name). The key it
    // encrypts with is granted without that condition: the key request SNS makes for an alarm is not documented to
    // carry aws:SourceArn, and a condition it lacks would drop every notification without a word. The key serves this
    // topic only, so the topic policy is what keeps other accounts' alarms out.
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromThisStacksAlarms = {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: `${stack.stackName}-*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromThisStacksAlarms,
      }),
    );
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        // In a key policy, "*" is the key itself.
        resources: ['*'],
      }),
    );

    if (recipients.alarmEmail !== undefined) {
      const deadLetterQueue = newDeadLetterQueue(this, 'EmailDeadLetterQueue', {
        catches: 'the alarm email subscription (its redrive policy)',
        alarmName: 'alarm-email-undelivered',
        alarmDescription:
          'SNS could not deliver an alarm notification to the alarm email address: alarms may reach no one by ' +
          'email. The message is the notification. Check the address in marketplace.observability.alarmEmail and ' +
          'that the subscription is confirmed (SNS sends nothing to an unconfirmed one, and no alarm sees that).',
      });
      this.topic.addSubscription(new EmailSubscription(recipients.alarmEmail, { deadLetterQueue }));
      new CfnOutput(stack, 'AlarmEmailDeadLetterQueueUrl', {
        description: 'Alarm notifications SNS could not deliver to the alarm email address',
        value: deadLetterQueue.queueUrl,
      });
    }

    const actions: IAlarmAction[] = [new SnsAction(this.topic)];
    const sellerTopic = this.sellerTopic(recipients.alarmTopicArn);
    if (sellerTopic !== undefined) actions.push(sellerTopic);
    else if (recipients.alarmEmail === undefined) this.warnThatNoOneHears(recipients.alarmTopicArn);
    Aspects.of(stack).add(new NotifyOnAlarmAndOk(actions), { priority: AspectPriority.MUTATING });
  }

  /**
   * A topic with no subscriber deploys without complaint, and its alarms then go off unheard: say so at synth, where
   * the seller still can name someone.
   */
  private warnThatNoOneHears(unreachableTopicArn: string | undefined): void {
    const stack = Stack.of(this);
    const why =
      unreachableTopicArn === undefined
        ? 'neither marketplace.observability.alarmEmail nor marketplace.observability.alarmTopicArn is set'
        : `marketplace.observability.alarmEmail is not set, and alarmTopicArn (${unreachableTopicArn}) is in ` +
          `another region than ${stack.region}, where CloudWatch cannot notify it`;
    Annotations.of(this).addWarningV2(
      'saas-marketplace:alarms-reach-no-one',
      `The alarms of ${stack.stackName} reach no one: ${why}. Set alarmEmail (an address SNS emails) or ` +
        'alarmTopicArn (an SNS topic of yours in the same region as the stack), or subscribe to the AlarmTopicArn ' +
        'output after the deploy.',
    );
  }

  /**
   * CloudWatch notifies topics of the alarm's region only. The configuration checks a configured region; a stack
   * deployed wherever the credentials point checks at deployment, and a stack pinned elsewhere (the us-east-1
   * forwarder) does without the seller's topic (its output says so).
   */
  private sellerTopic(topicArn: string | undefined): IAlarmAction | undefined {
    if (topicArn === undefined) return undefined;
    const stack = Stack.of(this);
    const topicRegion = Arn.split(topicArn, ArnFormat.NO_RESOURCE_NAME).region;
    if (Token.isUnresolved(stack.region)) {
      new CfnRule(this, 'SellerTopicRegion', {
        assertions: [
          {
            assert: Fn.conditionEquals(Aws.REGION, topicRegion),
            assertDescription:
              `marketplace.observability.alarmTopicArn is a topic in ${topicRegion}: CloudWatch notifies topics of ` +
              'the alarm region only. Deploy to that region, or name a topic in the region you deploy to.',
          },
        ],
      });
    } else if (stack.region !== topicRegion) {
      return undefined;
    }
    return new SnsAction(Topic.fromTopicArn(this, 'SellerTopic', topicArn));
  }
}

/** Adds the actions to every alarm it visits, for both the ALARM and the OK state. */
class NotifyOnAlarmAndOk implements IAspect {
  constructor(private readonly actions: readonly IAlarmAction[]) {}

  visit(node: IConstruct): void {
    if (!(node instanceof Alarm)) return;
    node.addAlarmAction(...this.actions);
    node.addOkAction(...this.actions);
  }
}

/**
 * An optional WAF web ACL in front of the API stage: one rate-based rule that blocks an IP address sending more than
 * the configured number of requests in five minutes. Each route's throttling caps all its callers together; this stops
 * one caller from using a route's whole allowance and locking real buyers out.
 */
import { Names } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { RETRY_AFTER_SECONDS, TRY_AGAIN_PAGE, tryAgainPageHeaders } from './try-again-page.ts';

export interface WebFirewallProps {
  readonly stage: Stage;
  readonly requestsPerFiveMinutes: number;
}

/** The key a block action names its response body by; the body itself is defined once on the web ACL. */
const TRY_AGAIN_BODY = 'TryAgainPage';

export class WebFirewall extends Construct {
  constructor(scope: Construct, id: string, props: WebFirewallProps) {
    super(scope, id);
    const metricPrefix = Names.uniqueId(this);
    const webAcl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      customResponseBodies: { [TRY_AGAIN_BODY]: { contentType: 'TEXT_HTML', content: TRY_AGAIN_PAGE } },
      visibilityConfig: {
        cloudWatchMetricsEnabled: true,
        metricName: metricPrefix,
        sampledRequestsEnabled: true,
      },
      rules: [
        {
          name: 'RequestsPerIp',
          priority: 0,
          // 429 tells a well-behaved client to slow down; WAF's default 403 reads as "forbidden for good". A buyer
          // who lands here sees the same page as when API Gateway itself throttles.
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: TRY_AGAIN_BODY,
                responseHeaders: Object.entries({
                  ...tryAgainPageHeaders,
                  'retry-after': String(RETRY_AFTER_SECONDS),
                }).map(([name, value]) => ({ name, value })),
              },
            },
          },
          statement: {
            rateBasedStatement: {
              limit: props.requestsPerFiveMinutes,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
            },
          },
          visibilityConfig: {
            cloudWatchMetricsEnabled: true,
            metricName: `${metricPrefix}RequestsPerIp`,
            sampledRequestsEnabled: true,
          },
        },
      ],
    });
    new CfnWebACLAssociation(this, 'StageAssociation', {
      resourceArn: props.stage.stageArn,
      webAclArn: webAcl.attrArn,
    });
  }
}

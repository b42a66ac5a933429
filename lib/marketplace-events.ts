/**
 * Marketplace's EventBridge notifications (`source: aws.agreement-marketplace`): the patterns that select the ones
 * this deployment acts on, and where they arrive. Marketplace puts them on the seller account's default bus in
 * us-east-1 only; a deployment elsewhere receives them through the forwarder stack (`marketplace-event-forwarder.ts`).
 */
import { Aws, CfnRule, Fn } from 'aws-cdk-lib';
import type { EventPattern } from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { MARKETPLACE_HOME_REGION } from '../contracts/index.ts';
import type { Config } from './config.ts';

const MARKETPLACE_SOURCE = 'aws.agreement-marketplace';

const LICENSE_DETAIL_TYPES = ['License Updated - Manufacturer', 'License Deprovisioned - Manufacturer'];

/** An ISV selling directly is both Proposer and Manufacturer; through a channel partner, only Manufacturer. */
const AGREEMENT_DETAIL_TYPES = ['Created', 'Amended', 'Ended'].flatMap((change) =>
  ['Proposer', 'Manufacturer'].map((role) => `Purchase Agreement ${change} - ${role}`),
);

/** Whether the configuration receives Marketplace's EventBridge notifications at all. */
export function receivesMarketplaceEvents(config: Config): boolean {
  return config.lifecycle.eventSources !== 'sns';
}

/** One selection of Marketplace events, each one rule wherever they are matched. */
export interface MarketplaceEventSelection {
  /** Part of the rule's construct id. */
  readonly name: 'Licenses' | 'Agreements';
  readonly pattern: EventPattern;
}

/**
 * License events of the license-model products sold here (others' licenses, and legacy products, which are told
 * apart by SNS, never reach the queue), and every agreement event: those name the agreement only, no product.
 */
export function marketplaceEventPatterns(config: Config): MarketplaceEventSelection[] {
  const licenseProductCodes = config.products
    .filter((product) => product.identityModel === 'license')
    .map((product) => product.code);
  const agreements: MarketplaceEventSelection = {
    name: 'Agreements',
    pattern: { source: [MARKETPLACE_SOURCE], detailType: AGREEMENT_DETAIL_TYPES },
  };
  if (licenseProductCodes.length === 0) return [agreements];
  const licenses: MarketplaceEventSelection = {
    name: 'Licenses',
    pattern: {
      source: [MARKETPLACE_SOURCE],
      detailType: LICENSE_DETAIL_TYPES,
      detail: { product: { code: licenseProductCodes } },
    },
  };
  return [licenses, agreements];
}

/**
 * For a stack whose region is known only at deployment: refuse to deploy anywhere but us-east-1, where Marketplace's
 * EventBridge events arrive and its legacy SNS topics (whose subscriptions' dead-letter queue must be in their region)
 * are. A deployment elsewhere would succeed and then never hear from Marketplace, or fail at the subscriptions.
 */
export function requireMarketplaceEventsRegion(scope: Construct): CfnRule {
  return new CfnRule(scope, 'MarketplaceEventsRegion', {
    assertions: [
      {
        assert: Fn.conditionEquals(Aws.REGION, MARKETPLACE_HOME_REGION),
        assertDescription:
          `AWS Marketplace sends its notifications (EventBridge events and the legacy SNS topics) from ` +
          `${MARKETPLACE_HOME_REGION} only. Deploy this stack to ${MARKETPLACE_HOME_REGION}, or set ` +
          'marketplace.region in cdk.json (or -c marketplace.region=<region>) to the region you deploy to: the app ' +
          `then adds a stack in ${MARKETPLACE_HOME_REGION} that forwards the notifications there.`,
      },
    ],
  });
}

/**
 * A customer-hour billed twice: a `BatchMeterUsage` record sent with `ProductCode` and a license-model `LicenseArn` is
 * billed once under each identity, as AWS warns it will be. The simulator bills it the same way, and says so loudly (a
 * log line, `/control/warnings`, `/control/stats`, `doubleBilled` on the billed records), because in AWS the buyer
 * pays twice.
 */
export interface DoubleBillingWarning {
  readonly kind: 'double-billing';
  readonly requestId: string;
  readonly receivedAt: Date;
  /** The record's position in its request, from 1. */
  readonly recordPosition: number;
  readonly productCode: string;
  readonly licenseId: string;
  readonly licenseArn: string;
  readonly customerAWSAccountId: string;
  readonly dimension: string;
  readonly hour: Date;
  /** The two billed records: under the `ProductCode`, then under the `LicenseArn`. */
  readonly meteringRecordIds: readonly [string, string];
  readonly message: string;
}

export function doubleBillingWarning(facts: Omit<DoubleBillingWarning, 'kind' | 'message'>): DoubleBillingWarning {
  const message =
    `double billing: usage record ${facts.recordPosition} of request ${facts.requestId} (license ${facts.licenseId}, ` +
    `${facts.licenseArn}; dimension ${facts.dimension}; hour ${facts.hour.toISOString()}) was sent with ProductCode ` +
    `${facts.productCode} and a LicenseArn, so it is billed twice, as AWS would bill it (metering records ` +
    `${facts.meteringRecordIds.join(' and ')}). Leave ProductCode out of requests whose records carry LicenseArn.`;
  return { kind: 'double-billing', ...facts, message };
}

/** A license subscriber's item as the Subscribers table stores it, for tests of what its changes announce. */
export const licenseSubscriberItem = {
  pk: 'SUBSCRIBER#license:arn:l-1',
  sk: 'SUBSCRIBER',
  subscriberId: 'license:arn:l-1',
  productCode: 'p',
  identityModel: 'license',
  licenseArn: 'arn:l-1',
} as const;

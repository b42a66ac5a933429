/**
 * What an AWS region name looks like (`us-east-1`, `us-gov-west-1`, `ap-southeast-5`, `eusc-de-east-1`): the
 * configuration holds its regions to it, the simulator the regions it is told to enable, the commands `AWS_REGION`.
 */
export const REGION_NAME_PATTERN = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;

/**
 * AWS Marketplace's home region: the only one it sends its notifications to (EventBridge events, legacy SNS topics),
 * the only one of the Entitlement Service, and where the metering APIs are called unless Seller Ops enabled another.
 */
export const MARKETPLACE_HOME_REGION = 'us-east-1';

/**
 * What an AWS region name looks like (`us-east-1`, `us-gov-west-1`, `ap-southeast-5`): the configuration holds its
 * regions to it, and the simulator the regions it is told to enable.
 */
export const REGION_NAME_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d$/;

/**
 * The AWS identity the local stack acts as: the account its ARNs and events name, its region, and the credentials it
 * gives its own clients (DynamoDB Local, the simulator, its signed calls), which its gateway checks signatures with.
 */

/** API Gateway's and Lambda's documentation examples use this account too. */
export const LOCAL_ACCOUNT_ID = '123456789012';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

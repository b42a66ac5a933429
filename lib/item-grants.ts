/**
 * Grants on single items of a table, limited by the start of their partition key (IAM's `dynamodb:LeadingKeys`), so
 * that a function may touch only the kinds of item its code reads or writes: a bug, or a key built from what a buyer
 * sent, cannot reach another kind of item (a session, or whatever the table holds later) through a grant meant for one.
 */
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';

/**
 * The partition key prefixes of the Subscribers table's items, as `lambdas/core/table-keys.ts` writes them (`lib/`
 * and `lambdas/` never import each other; the infra tests hold the two equal).
 */
export const subscribersItemPrefixes = {
  subscriber: 'SUBSCRIBER#',
  session: 'SESSION#',
  agreement: 'AGREEMENT#',
  rejectedNotification: 'REJECTED#',
} as const;

/** Actions on one item named by its key: a request always carries the partition key the condition tests. */
export type SingleItemAction = 'dynamodb:GetItem' | 'dynamodb:PutItem' | 'dynamodb:UpdateItem';

export function grantOnItems(
  grantee: IGrantable,
  table: ITableV2,
  actions: readonly SingleItemAction[],
  partitionKeyPrefixes: readonly string[],
): void {
  Grant.addToPrincipal({
    grantee,
    actions: [...actions],
    resourceArns: [table.tableArn],
    conditions: {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitionKeyPrefixes.map((prefix) => `${prefix}*`) },
      // ForAllValues also holds for a request that names no partition key at all (as a Scan would): IAM's own advice
      // for ForAllValues in an Allow is to require the key as well.
      Null: { 'dynamodb:LeadingKeys': 'false' },
    },
  });
}

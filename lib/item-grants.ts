/**
 * Grants on single items of a table, limited by the start of their partition key (IAM's `dynamodb:LeadingKeys`), so
 * that a function may touch only the kinds of item its code reads or writes: a bug, or a key built from what a buyer
 * sent, cannot reach another kind of item (a session, or whatever the table holds later) through a grant meant for one.
 * The prefixes are the tables' contract (`contracts/item-keys.ts`).
 */
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';

/**
 * Actions on items named by their partition keys: one item, several (`BatchGetItem`, each key checked), or one
 * partition (`Query`). A request always carries the partition keys the condition tests. A transaction's items are
 * authorized as these actions, item by item.
 */
export type KeyedItemAction =
  'dynamodb:GetItem' | 'dynamodb:BatchGetItem' | 'dynamodb:PutItem' | 'dynamodb:UpdateItem' | 'dynamodb:Query';

export function grantOnItems(
  grantee: IGrantable,
  table: ITableV2,
  actions: readonly KeyedItemAction[],
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

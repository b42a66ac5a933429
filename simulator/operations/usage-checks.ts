/**
 * Checks that `BatchMeterUsage` and `MeterUsage` share: dimensions, allocation tags, allocations, and the timestamp
 * window. Each returns a human message for the exception the operation raises, or `undefined` when the input passes.
 */
import { z } from 'zod';
import type { Product } from '../marketplace.ts';
import { canonicalAllocations, type AllocationEntry } from '../metering-ledger.ts';
import { integerMember, listMember } from '../validation.ts';

export const MAX_QUANTITY = 2_147_483_647;
export const PRODUCT_CODE_PATTERN = /^[-a-zA-Z0-9/=:_.@]*$/;
/** The model's tag pattern. In it ` -=` is a range (space to `=`), so most ASCII punctuation is allowed. */
const TAG_PATTERN = /^[a-zA-Z0-9+ -=._:/@]+$/;
const MAX_TAGS = 5;

/** Tags are checked by the operation (`InvalidTagException`), not by the model validator. */
const tagInput = z.object({ Key: z.string(), Value: z.string() });

const allocationInput = z.object({
  AllocatedUsageQuantity: integerMember({ min: 0, max: MAX_QUANTITY }),
  Tags: z.array(tagInput).optional(),
});

export const usageAllocationsMember = listMember(allocationInput, { min: 1, max: 2500 });

export type AllocationInput = z.infer<typeof allocationInput>;

export function isMeteredDimension(product: Product, dimension: string): boolean {
  return product.dimensions.some((candidate) => candidate.name === dimension && candidate.kind === 'metered');
}

export function tagViolation(allocations: readonly AllocationInput[] | undefined): string | undefined {
  for (const [index, allocation] of (allocations ?? []).entries()) {
    const tags = allocation.Tags ?? [];
    const where = `allocation ${index + 1}`;
    if (allocation.Tags !== undefined && tags.length === 0) return `${where} has an empty tag list`;
    if (tags.length > MAX_TAGS) return `${where} has ${tags.length} tags; at most ${MAX_TAGS} are allowed`;
    const keys = new Set<string>();
    for (const tag of tags) {
      if (tag.Key.length < 1 || tag.Key.length > 100 || !TAG_PATTERN.test(tag.Key)) {
        return `${where} has an invalid tag key '${tag.Key}' (1-100 characters matching ${TAG_PATTERN.source})`;
      }
      if (tag.Value.length < 1 || tag.Value.length > 256 || !TAG_PATTERN.test(tag.Value)) {
        return `${where} has an invalid tag value '${tag.Value}' (1-256 characters matching ${TAG_PATTERN.source})`;
      }
      if (keys.has(tag.Key)) return `${where} repeats the tag key '${tag.Key}'`;
      keys.add(tag.Key);
    }
  }
  return undefined;
}

export function allocationViolation(
  quantity: number,
  allocations: readonly AllocationInput[] | undefined,
  maxAllocations: number,
): string | undefined {
  if (allocations === undefined) return undefined;
  if (allocations.length > maxAllocations) {
    return `${allocations.length} allocations exceed the limit of ${maxAllocations}`;
  }
  const total = allocations.reduce((sum, allocation) => sum + allocation.AllocatedUsageQuantity, 0);
  if (total !== quantity) return `allocated quantities sum to ${total}, not to the record's quantity ${quantity}`;
  const tagSets = canonical(quantity, allocations).map((allocation) => JSON.stringify(allocation.tags));
  if (new Set(tagSets).size !== tagSets.length) return 'two allocations carry the same tag set';
  return undefined;
}

export interface TimestampWindow {
  /** How far back a record may be. */
  readonly windowHours: number;
  readonly futureToleranceSeconds: number;
  readonly monthEndCutoffHours: number;
}

/**
 * Why `at` is outside the window Marketplace accepts at `now`: not a representable time, older than the window,
 * further in the future than the clock-skew tolerance, or in a previous month once the month-end cut-off (06:00 UTC on
 * the 1st) has passed.
 */
export function timestampViolation(at: Date, now: Date, window: TimestampWindow): string | undefined {
  if (Number.isNaN(at.getTime())) return 'the timestamp is not a representable time';
  const ageMs = now.getTime() - at.getTime();
  if (ageMs > window.windowHours * 3_600_000) return `${at.toISOString()} is more than ${window.windowHours} hours old`;
  if (-ageMs > window.futureToleranceSeconds * 1000) return `${at.toISOString()} is in the future`;
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const cutoff = monthStart + window.monthEndCutoffHours * 3_600_000;
  if (at.getTime() < monthStart && now.getTime() >= cutoff) {
    return `${at.toISOString()} is in a previous month, whose records closed at ${new Date(cutoff).toISOString()}`;
  }
  return undefined;
}

/**
 * The allocations of a record in canonical form, for deciding whether a resend is identical. A record without
 * allocations is all untagged usage, the same as one untagged allocation of its whole quantity.
 */
export function canonical(quantity: number, allocations: readonly AllocationInput[] | undefined): AllocationEntry[] {
  return canonicalAllocations(
    (allocations ?? [{ AllocatedUsageQuantity: quantity }]).map((allocation) => ({
      quantity: allocation.AllocatedUsageQuantity,
      tags: (allocation.Tags ?? []).map((tag) => ({ key: tag.Key, value: tag.Value })),
    })),
  );
}

/** A loaded (or loading) variant as the memory budget sees it. */
export interface LoadedCost {
  name: string;
  /** Bytes counted against the budget. */
  cost: number;
  /** When it was last used (larger = more recent). */
  lastUsed: number;
  /** Ready, not pinned and running no model pass. */
  evictable: boolean;
}

/**
 * Which variants to evict so that a variant costing `cost` bytes fits in `budget`: the least recently used evictable
 * ones first, as few as needed. `[]` when it fits already; null when it cannot fit even after evicting every
 * evictable variant (or is larger than the budget on its own), in which case nothing should be evicted.
 */
export function chooseEvictions(cost: number, budget: number, loaded: readonly LoadedCost[]): string[] | null {
  if (cost > budget) return null;
  let used = loaded.reduce((sum, variant) => sum + variant.cost, 0);
  const candidates = loaded.filter((variant) => variant.evictable).sort((a, b) => a.lastUsed - b.lastUsed || a.name.localeCompare(b.name));
  const evicted: string[] = [];
  for (const candidate of candidates) {
    if (used + cost <= budget) break;
    evicted.push(candidate.name);
    used -= candidate.cost;
  }
  return used + cost <= budget ? evicted : null;
}

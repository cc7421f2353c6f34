/**
 * "Did you mean" for unknown model names: the candidates nearest to `query` by edit distance, ignoring case (people
 * type `BLIP-Base` or `blip_base`). Ties keep the candidates' order, so callers pass them sorted.
 */
export function closestNames(query: string, candidates: readonly string[], limit = 3): string[] {
  const q = query.toLowerCase();
  return [...new Set(candidates)]
    .map((candidate, index) => ({ candidate, index, distance: editDistance(q, candidate.toLowerCase()) }))
    .sort((a, b) => a.distance - b.distance || a.index - b.index)
    .slice(0, limit)
    .map((entry) => entry.candidate);
}

/** Levenshtein distance (insert, delete, substitute), one row at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

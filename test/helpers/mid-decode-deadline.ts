import type { ItemResult } from '../../src/backend/items.ts';

/**
 * Finds a deadline that falls while a victim request is decoding, for the deadline tests. `attempt(fraction)` submits
 * the victim with its deadline at `fraction` of a measured batch time from now (plus whatever runs beside it) and
 * returns the victim's result. A shared CI machine can make one run several times slower than the next, so one guess
 * may land before the victim is admitted (it expires in the queue) or after it is done (it finishes): each miss moves
 * the fraction towards the middle. Returns where each attempt ended ('finished' or the error's stage); the caller
 * asserts that the last one is 'decode'.
 */
export async function expireMidDecode(attempt: (fraction: number) => Promise<ItemResult>, tries = 6): Promise<string[]> {
  const outcomes: string[] = [];
  let fraction = 1 / 3;
  while (outcomes.length < tries && outcomes.at(-1) !== 'decode') {
    const victim = await attempt(fraction);
    const outcome = victim.ok ? 'finished' : String(victim.error.details?.stage);
    outcomes.push(outcome);
    if (outcome === 'finished') fraction /= 3;
    else if (outcome !== 'decode') fraction *= 2;
  }
  return outcomes;
}

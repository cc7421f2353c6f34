/**
 * What the restricted unpickler produces besides plain JS values, and the policy that decides everything a pickle
 * would import or call. See restricted-unpickler.ts for the mapping of Python values to JS values.
 */

/** A Python tuple (kept apart from lists: callers check that arguments really are tuples). */
export class PickleTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** A Python dict or dict subclass (e.g. `collections.OrderedDict`); keys keep insertion order like Python's. */
export class PickleDict {
  readonly entries = new Map<unknown, unknown>();
  constructor(readonly className: string) {}
}

/** A Python set or frozenset. */
export class PickleSet {
  readonly items: unknown[] = [];
  constructor(readonly frozen: boolean) {}
}

/** Decides what the pickle may construct. Every method either returns a value or throws. */
export interface UnpicklePolicy {
  /** GLOBAL / STACK_GLOBAL / INST / OBJ: the object a `module.name` import stands for. */
  findGlobal(module: string, name: string): unknown;
  /** REDUCE / NEWOBJ / INST / OBJ: `callable(*args)`. */
  call(callable: unknown, args: readonly unknown[]): unknown;
  /** BUILD: apply `state` to `target` (Python's `__setstate__`); returns the object that replaces `target`. */
  build(target: unknown, state: unknown): unknown;
  /** PERSID / BINPERSID: resolve an out-of-band reference. */
  persistentLoad(pid: unknown): unknown;
}

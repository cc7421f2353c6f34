/**
 * When to dispatch the batch a DataLoader is collecting for one variant (its `batchScheduleFn`).
 * - Model idle: dispatch on the next turn of the event loop, so requests that arrived together (a batch mutation, a
 *   burst) share a pass, and a lone request does not wait out the window for nothing.
 * - Model busy: keep collecting until the running pass finishes or `maxQueueDelayMs` has passed, whichever comes
 *   first (Triton's max_queue_delay): requests that arrive during a pass form the next batch.
 */
export class BatchScheduler {
  private running = 0;
  private waiting: Array<() => void> = [];

  constructor(private readonly maxQueueDelayMs: number) {}

  readonly schedule = (dispatch: () => void): void => {
    if (this.running === 0) {
      setImmediate(dispatch);
      return;
    }
    let fired = false;
    const fire = () => {
      if (fired) return;
      fired = true;
      clearTimeout(timer);
      this.waiting = this.waiting.filter((w) => w !== fire);
      dispatch();
    };
    const timer = setTimeout(fire, this.maxQueueDelayMs);
    this.waiting.push(fire);
  };

  /** Marks a model pass as running; call the returned function when it ends. */
  begin(): () => void {
    this.running++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.running--;
      if (this.running === 0) for (const fire of [...this.waiting]) fire();
    };
  }

  get busy(): boolean {
    return this.running > 0;
  }
}

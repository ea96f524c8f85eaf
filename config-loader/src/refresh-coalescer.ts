/**
 * Merges refresh requests: while a pass runs, every request joins one queued pass that starts
 * when it ends, so a burst of webhooks (a push of many commits, a retrying sender) costs at most
 * one pass more, not one per request. A request never joins the running pass: it may have read
 * the folder before the change the request announces.
 */
export class RefreshCoalescer<T> {
  private running: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  constructor(private readonly pass: () => Promise<T>) {}

  /** Resolves with the result of a pass that started after this call. */
  request(): Promise<T> {
    if (this.queued) return this.queued;
    if (!this.running) return this.launch();
    const after = this.running.then(
      () => undefined,
      () => undefined,
    );
    this.queued = after.then(() => {
      this.queued = undefined;
      return this.launch();
    });
    return this.queued;
  }

  private launch(): Promise<T> {
    const p = this.pass();
    this.running = p;
    const clear = (): void => {
      if (this.running === p) this.running = undefined;
    };
    p.then(clear, clear);
    return p;
  }
}

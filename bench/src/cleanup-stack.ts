/**
 * What a benchmark has to undo (servers, connections, processes), undone last first at the end
 * and on SIGINT / SIGTERM, so that an interrupted run leaves nothing behind.
 */
export class CleanupStack {
  private readonly steps: (() => Promise<unknown>)[] = [];

  constructor(
    private readonly warn: (msg: string) => void = (msg) => process.stderr.write(`${msg}\n`),
  ) {}

  push(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  /** Undoes everything pushed so far, last first; a failing step is reported, not thrown. */
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      await step().catch((err: unknown) => this.warn(`cleanup: ${String(err)}`));
    }
  }

  /** On SIGINT or SIGTERM: tells `onSignal`, undoes everything and exits with 130. */
  runOnSignals(onSignal?: (signal: NodeJS.Signals) => void): void {
    const handler = (signal: NodeJS.Signals): void => {
      onSignal?.(signal);
      void this.run().finally(() => process.exit(130));
    };
    process.once("SIGINT", handler).once("SIGTERM", handler);
  }
}

import { KonErrorCode } from "@konorkestra/sdk";
import type { GuardedConfig } from "../live-config";
import type { JobSource } from "./job-source";
import type { Service2Config } from "./service2-config";

/** What the worker reports on GET /status. */
export interface WorkerStatus {
  concurrency: number;
  pollIntervalMs: number;
  active: number;
  maxActiveSeen: number;
  completed: number;
  failed: number;
  /** Polls skipped because the config could not be proven current (no job taken). */
  staleRefusals: number;
  /** Set while the worker takes no jobs on a stale config: since when, and why. */
  stale: { sinceMs: number; reason: string } | null;
}

/**
 * service2: a worker pool whose concurrency and poll interval follow its config live. Raising the
 * concurrency starts more jobs at the next poll; lowering it lets running jobs finish and starts
 * no new ones until the pool is under the new limit. A shorter interval wakes a sleeping poller.
 *
 * Every poll runs under `cfg.guard`: when the config cannot be proven current within
 * `maxStalenessMs` (NATS cut off, a change received but not applied), the worker takes no job,
 * says so once, and tries again after the poll interval. Jobs already running finish.
 */
export class Worker {
  private active = 0;
  private maxActiveSeen = 0;
  private completed = 0;
  private failed = 0;
  private staleRefusals = 0;
  private stale: { sinceMs: number; reason: string } | null = null;
  private running = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly config: GuardedConfig<Service2Config>,
    private readonly source: JobSource,
    private readonly onError: (err: unknown) => void = () => undefined,
    private readonly onStale: (state: WorkerStatus["stale"]) => void = () => undefined,
  ) {
    config.select(
      (c) => c,
      () => this.wake?.(),
    );
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Resets the high-water mark (used to observe a concurrency change). */
  resetMaxActive(): void {
    this.maxActiveSeen = this.active;
  }

  status(): WorkerStatus {
    const { concurrency, pollIntervalMs } = this.config.value;
    return {
      concurrency,
      pollIntervalMs,
      active: this.active,
      maxActiveSeen: this.maxActiveSeen,
      completed: this.completed,
      failed: this.failed,
      staleRefusals: this.staleRefusals,
      stale: this.stale,
    };
  }

  private async run(): Promise<void> {
    while (this.running) {
      const free = this.config.value.concurrency - this.active;
      if (free <= 0) {
        // Full: a finishing job or a config change wakes the loop.
        await this.sleep(this.config.value.pollIntervalMs);
        continue;
      }
      let jobs: (() => Promise<void>)[] = [];
      try {
        jobs = await this.config.guard(() => this.source.poll(free), {
          maxStalenessMs: this.config.value.maxStalenessMs,
        });
        this.setStale(null);
      } catch (err) {
        if ((err as { code?: unknown }).code === KonErrorCode.StaleConfig) {
          this.staleRefusals++;
          this.setStale({ sinceMs: this.stale?.sinceMs ?? Date.now(), reason: String(err) });
        } else {
          this.onError(err);
        }
      }
      for (const job of jobs) this.runJob(job);
      if (jobs.length === 0) await this.sleep(this.config.value.pollIntervalMs);
    }
  }

  private setStale(next: WorkerStatus["stale"]): void {
    const changed = (next === null) !== (this.stale === null);
    this.stale = next;
    if (changed) this.onStale(next);
  }

  private runJob(job: () => Promise<void>): void {
    this.active++;
    this.maxActiveSeen = Math.max(this.maxActiveSeen, this.active);
    job()
      .then(
        () => this.completed++,
        (err: unknown) => {
          this.failed++;
          this.onError(err);
        },
      )
      .finally(() => {
        this.active--;
        this.wake?.();
      });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}

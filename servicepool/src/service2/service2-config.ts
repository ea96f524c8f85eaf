import { z } from "zod";

/** Config key `service2`: how the worker pulls and runs jobs. */
export const Service2Config = z.object({
  /** Jobs run at once. */
  concurrency: z.number().int().min(1).max(256).default(2),
  /** Pause between polls when the queue was empty. */
  pollIntervalMs: z.number().int().min(10).max(60_000).default(500),
  /**
   * Jobs are taken only while the config is proven current within this bound (`cfg.guard`): a
   * worker cut off from NATS stops taking jobs instead of running them on a value that may be old.
   */
  maxStalenessMs: z.number().int().min(100).max(600_000).default(2000),
});
export type Service2Config = z.infer<typeof Service2Config>;

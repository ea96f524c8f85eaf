import { z } from "zod";

/** Config key `service2`: how the worker pulls and runs jobs. */
export const Service2Config = z.object({
  /** Jobs run at once. */
  concurrency: z.number().int().min(1).max(256).default(2),
  /** Pause between polls when the queue was empty. */
  pollIntervalMs: z.number().int().min(10).max(60_000).default(500),
});
export type Service2Config = z.infer<typeof Service2Config>;

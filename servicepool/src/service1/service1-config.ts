import { z } from "zod";

/** Config key `service1`: feature flags and the per-client rate limit of the HTTP API. */
export const Service1Config = z.object({
  /** Greeting returned by GET /v1/hello. */
  greeting: z.string().min(1).default("hello"),
  /** Feature flags; unknown flags are allowed and listed by GET /v1/features. */
  features: z.record(z.string(), z.boolean()).default({}),
  /** Token bucket per client (X-Client-Id header, else the remote address). */
  rateLimit: z
    .object({
      requestsPerSecond: z.number().positive().max(100_000),
      burst: z.number().int().positive().max(100_000),
    })
    .default({ requestsPerSecond: 10, burst: 20 }),
});
export type Service1Config = z.infer<typeof Service1Config>;

import express from "express";
import type { Express } from "express";
import type { LiveConfig } from "../live-config";
import { RateLimiter } from "./rate-limiter";
import type { Service1Config } from "./service1-config";

/**
 * service1: an HTTP API whose feature flags and per-client rate limit follow its config live.
 * Flags are read per request from the current value; the limiter is reconfigured only when the
 * `rateLimit` slice changes.
 */
export function createService1App(config: LiveConfig<Service1Config>): {
  app: Express;
  limiter: RateLimiter;
} {
  const limiter = new RateLimiter(config.value.rateLimit);
  config.select(
    (c) => c.rateLimit,
    (limit) => limiter.configure(limit),
  );

  const app = express();
  app.disable("x-powered-by");
  app.use((req, res, next) => {
    const client = req.get("x-client-id") ?? req.ip ?? "unknown";
    const waitMs = limiter.take(client);
    if (waitMs > 0) {
      res.set("Retry-After", String(Math.ceil(waitMs / 1000)));
      res
        .status(429)
        .json({ error: "rate_limited", client, retryAfterMs: waitMs, limit: limiter.current });
      return;
    }
    next();
  });

  app.get("/v1/hello", (_req, res) => {
    const { greeting, features } = config.value;
    const text = features.shout ? `${greeting.toUpperCase()}!` : greeting;
    res.json({ message: text, features: Object.keys(features).filter((f) => features[f]) });
  });

  app.get("/v1/features", (_req, res) => {
    res.json({ features: config.value.features, rateLimit: limiter.current });
  });

  // A route that exists only while its flag is on: the flag changes behaviour, not just a field.
  app.get("/v1/beta", (_req, res) => {
    if (!config.value.features.beta) {
      res.status(404).json({ error: "not_found", reason: "feature 'beta' is off" });
      return;
    }
    res.json({ beta: true });
  });

  return { app, limiter };
}

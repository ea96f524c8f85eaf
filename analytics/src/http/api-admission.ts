import { KonErrorCode } from "@konorkestra/sdk";
import type { RequestHandler, Response } from "express";

/** Limits of {@link ApiAdmission}. */
export interface ApiAdmissionLimits {
  /** API requests worked on at the same time; more wait in line. */
  maxInFlight: number;
  /** Requests waiting in line; one more is answered 503 with Retry-After. */
  maxQueued: number;
  /** Seconds a refused client is told to wait (`Retry-After`). @default 1 */
  retryAfterSeconds?: number;
}

interface Waiter {
  readonly start: () => void;
  gone: boolean;
}

/**
 * Admission of `/v1` requests: at most `maxInFlight` at a time, `maxQueued` more in line (first
 * come, first served), and a 503 with `Retry-After` beyond that. The API has a PostgreSQL pool of
 * its own, but it shares this process's CPU (and the machine's) with the ingest: without a bound,
 * a crowd of dashboards queues without limit for the API pool and holds memory and sockets, and
 * a client that gives up still costs the work of its request. A request whose client left while
 * it waited is dropped from the line unworked. `/healthz`, `/metrics` and the dashboard's files
 * are not counted.
 */
export class ApiAdmission {
  private inFlight = 0;
  private queued = 0;
  private readonly line: Waiter[] = [];
  private refusedTotal = 0;

  constructor(private readonly limits: ApiAdmissionLimits) {}

  /** Requests in flight, waiting, and refused so far (for /v1/pipeline-style reporting). */
  get state(): { inFlight: number; queued: number; refused: number } {
    return { inFlight: this.inFlight, queued: this.queued, refused: this.refusedTotal };
  }

  middleware(): RequestHandler {
    return (req, res, next) => {
      if (!req.path.startsWith("/v1/")) return next();
      if (this.inFlight < this.limits.maxInFlight) {
        this.enter(res);
        return next();
      }
      if (this.queued >= this.limits.maxQueued) return this.refuse(res);
      const w: Waiter = {
        start: () => {
          this.enter(res);
          next();
        },
        gone: false,
      };
      this.queued++;
      this.line.push(w);
      res.once("close", () => {
        if (w.gone) return;
        w.gone = true; // left while waiting: never worked on
        this.queued--;
      });
    };
  }

  private enter(res: Response): void {
    this.inFlight++;
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      this.inFlight--;
      this.admitNext();
    };
    res.once("finish", leave);
    res.once("close", leave);
  }

  private admitNext(): void {
    while (this.inFlight < this.limits.maxInFlight) {
      const w = this.line.shift();
      if (!w) return;
      if (w.gone) continue;
      w.gone = true;
      this.queued--;
      w.start();
    }
  }

  private refuse(res: Response): void {
    this.refusedTotal++;
    const seconds = this.limits.retryAfterSeconds ?? 1;
    res
      .status(503)
      .set("Retry-After", String(seconds))
      .json({
        error: {
          code: KonErrorCode.RateLimited,
          message: `the API is at capacity (${this.limits.maxInFlight} requests in progress, ${this.limits.maxQueued} waiting); retry after ${seconds} s`,
          details: { maxInFlight: this.limits.maxInFlight, maxQueued: this.limits.maxQueued },
        },
      });
  }
}

/**
 * The times analytics stores and answers about. Everything outside is a client's mistake or a
 * forged message: PostgreSQL would refuse some of it with its own error text (timestamps past
 * year 294276), JavaScript's Date cannot even format some (past ±275760), and a beat or event
 * dated in 1970 or in the year 3000 would distort every uptime figure it touches.
 */

/** First instant the API accepts: the epoch. */
export const EARLIEST_MS = 0;
/** First instant past what the API accepts: 2100-01-01T00:00:00Z. */
export const LATEST_MS = Date.UTC(2100, 0, 1);

/** True for a whole millisecond time within [EARLIEST_MS, LATEST_MS). */
export function isSaneTime(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= EARLIEST_MS && ms < LATEST_MS;
}

/**
 * How far a sender's clock may claim to be from the NATS server's before analytics stops
 * believing it: a claimed time further than this from the stream time is clamped to this
 * distance (the row stays, the skew stays visible, its size is bounded).
 */
export const MAX_CLAIMED_SKEW_MS = 3_600_000;

/**
 * How far back an event may date itself: a monitor or loader may publish what it saw earlier
 * (after an outage, from an outbox), but not before the longest range the API answers about.
 */
export const MAX_EVENT_AGE_MS = 400 * 86_400_000;

/**
 * A time a message claims (`sent_at_ms`, `detected_at_ms`, `at_ms`), held within
 * [stream time − `maxPastMs`, stream time + `MAX_CLAIMED_SKEW_MS`] of the server's stream time
 * of that message; 0, negative or not a number (the field left out) is the stream time itself.
 * Nothing that arrives now may claim to be from the future.
 */
export function claimedTime(
  claimedMs: number,
  streamMs: number,
  maxPastMs = MAX_CLAIMED_SKEW_MS,
): number {
  if (!Number.isFinite(claimedMs) || claimedMs <= 0) return streamMs;
  return Math.min(Math.max(claimedMs, streamMs - maxPastMs), streamMs + MAX_CLAIMED_SKEW_MS);
}

import { InvalidArgumentError } from "commander";

import type { CliIo } from "../program";

/**
 * Runs `tick` now and then every `intervalMs` until `count` ticks ran, the io's signal aborted,
 * or the process got SIGINT/SIGTERM (then it returns, so the command ends with exit 0 as
 * `watch` does). A failing tick ends the loop with its error.
 */
export async function pollLoop(
  io: CliIo,
  intervalMs: number,
  count: number | undefined,
  tick: (n: number) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  io.signal?.addEventListener("abort", onSignal);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for (let n = 1; !stop.signal.aborted && !io.signal?.aborted; n++) {
      await tick(n);
      if (count !== undefined && n >= count) break;
      await sleep(intervalMs, stop.signal);
    }
  } finally {
    io.signal?.removeEventListener("abort", onSignal);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/** Parses `--count` and similar: a positive whole number (commander reports it as usage otherwise). */
export function countOption(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError("use a positive whole number");
  return n;
}

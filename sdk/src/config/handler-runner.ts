import type { Logger } from "../logger";
import type { HandlerCall } from "./config-handle";
import { settlesWithin } from "./race-timeout";

/**
 * Runs handler calls one at a time, awaiting async ones. A handler that throws or rejects is
 * logged and the next one runs; one still running after its timeout is logged and no longer
 * waited for, so a stuck handler cannot hold every later swap back.
 */
export async function runHandlerCalls(
  calls: readonly HandlerCall[],
  logger: Logger,
): Promise<void> {
  for (const call of calls) {
    try {
      const result = call.run();
      if (!isThenable(result)) continue;
      const settled = Promise.resolve(result).catch((err: unknown) => {
        logger.error(`${call.label} handler failed: ${String(err)}`);
      });
      if (!(await settlesWithin(settled, call.timeoutMs))) {
        logger.error(
          `${call.label} handler still running after ${call.timeoutMs} ms; not waiting for it`,
        );
      }
    } catch (err) {
      logger.error(`${call.label} handler failed: ${String(err)}`);
    }
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

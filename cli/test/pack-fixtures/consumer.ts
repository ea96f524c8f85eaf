// A user's program, compiled by pack-install.int.test.ts in a scratch project that installed only
// the packed tarballs and zod: strict, `types: []` (no @types/node), so it shows that the public
// types of @konorkestra/sdk stand on their own and carry real types, not `any`.
import {
  InvalidNameError,
  KonError,
  KonErrorCode,
  Konorkestra,
  silentLogger,
} from "@konorkestra/sdk";
import type { ConfigHandle, ConfigMeta, KonorkestraRuntimeOptions } from "@konorkestra/sdk";
import { z } from "zod";

const Greeting = z.object({ message: z.string(), n: z.number().int() });
type Greeting = z.output<typeof Greeting>;

/** Reads the `greeting` key of the group the options name. */
export async function readGreeting(opts: KonorkestraRuntimeOptions): Promise<string> {
  const kon = await Konorkestra.connect({ ...opts, logger: silentLogger });
  try {
    const handle: ConfigHandle<Greeting> = await kon.config("greeting", Greeting);
    const n: number = handle.value.n;
    // @ts-expect-error `n` is a number: an `any` in the public types would let this through.
    const wrong: string = handle.value.n;
    const meta: ConfigMeta = handle.meta;
    const stop = handle.onChange((next) => {
      // @ts-expect-error `message` is a string.
      const bad: number = next.message;
      void bad;
    });
    stop();
    return `${handle.value.message} ${n} ${String(wrong)} ${meta.revision}`;
  } finally {
    await kon.close();
  }
}

/** Error codes are a closed union: a typo does not compile. */
export function isBadName(e: unknown): boolean {
  // @ts-expect-error there is no such code.
  const typo: KonErrorCode = "INVALID_NAMES";
  return (
    (e instanceof KonError && e.code === KonErrorCode.InvalidName && e.code !== typo) ||
    e instanceof InvalidNameError
  );
}

// H7 (session 8): `kon get KEY | head`: the reader of stdout goes away while a one-shot command's
// output is still being written. The write fails (EPIPE) after the command has returned; kon must
// end quietly with exit code 0, as `--watch` does, not die on an unheard 'error' event.
import { Writable } from "node:stream";
import { runCli } from "../src/program";

/** A pipe whose reader has gone: every write fails with EPIPE, a little later (as a socket's). */
function goneReader(): Writable & { isTTY: false } {
  const w = new Writable({
    write(_chunk, _enc, cb) {
      const err = Object.assign(new Error("write EPIPE"), { code: "EPIPE", errno: -32 });
      setTimeout(() => cb(err), 20);
    },
  });
  return Object.assign(w, { isTTY: false as const });
}

test("a one-shot command ends quietly (exit 0) when stdout's reader has gone", async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  const jestHandlers = process.listeners("uncaughtException");
  process.removeAllListeners("uncaughtException");
  process.on("uncaughtException", onUncaught);
  try {
    const stdout = goneReader();
    const errs: string[] = [];
    const stderr = new Writable({
      write(c: Buffer, _e, cb) {
        errs.push(c.toString());
        cb();
      },
    });
    const code = await runCli(["node", "kon", "completion", "bash"], {
      stdout,
      stderr,
      env: { PATH: process.env.PATH },
    });
    await new Promise((r) => setTimeout(r, 100)); // the failed write's error arrives now
    expect(code).toBe(0);
    expect(uncaught).toEqual([]);
    expect(errs.join("")).toBe("");
  } finally {
    process.off("uncaughtException", onUncaught);
    for (const h of jestHandlers) process.on("uncaughtException", h);
  }
});

import { RefreshCoalescer } from "../src/refresh-coalescer";

/** A pass the test finishes by hand. */
function controlledPasses(): { run: () => Promise<number>; started: number; finish: () => void } {
  const waiting: (() => void)[] = [];
  const state = {
    started: 0,
    run: () => {
      const n = ++state.started;
      return new Promise<number>((resolve) => waiting.push(() => resolve(n)));
    },
    finish: () => waiting.shift()?.(),
  };
  return state;
}

const tick = () => new Promise((r) => setImmediate(r));

test("requests while a pass runs are merged into one more pass", async () => {
  const p = controlledPasses();
  const c = new RefreshCoalescer(p.run);
  const first = c.request();
  const during = Array.from({ length: 10 }, () => c.request());
  expect(p.started).toBe(1);
  p.finish();
  expect(await first).toBe(1);
  await tick();
  expect(p.started).toBe(2); // exactly one more
  const lateJoiner = c.request(); // arrives while the merged pass runs: a third, queued
  p.finish();
  expect(await Promise.all(during)).toEqual(Array(10).fill(2));
  await tick();
  expect(p.started).toBe(3);
  p.finish();
  expect(await lateJoiner).toBe(3);
});

test("an idle coalescer starts at once; a failed pass does not stop the queued one", async () => {
  let n = 0;
  const c = new RefreshCoalescer(() => {
    n++;
    return n === 1 ? Promise.reject(new Error("boom")) : Promise.resolve(n);
  });
  const a = c.request();
  const b = c.request();
  await expect(a).rejects.toThrow("boom");
  expect(await b).toBe(2);
  expect(await c.request()).toBe(3);
});

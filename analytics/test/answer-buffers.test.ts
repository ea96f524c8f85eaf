import { AnswerBuffers } from "../src/http/answer-buffers";
import { ResponseCache } from "../src/http/response-cache";

// Answer buffers take turns: a buffer is written again only when no one holds its answer — the
// cache slot, a build being handed out, a response still being written.

const SIZE = 300 * 1024;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test("a buffer takes a new answer only when nothing holds the old one", async () => {
  const answers = new AnswerBuffers(4, 64 * 1024);
  const cache = new ResponseCache(0, undefined, answers); // every request fresh
  let version = 0;
  const build = async (): Promise<Buffer> => {
    await new Promise((r) => setTimeout(r, Math.random() * 3));
    const out = answers.alloc(SIZE);
    out.fill(++version % 251, 0, SIZE);
    return out.subarray(0, SIZE);
  };
  // Clients as the router serves them: hold the body while "writing" it, check it is unchanged.
  let corrupt = 0;
  let served = 0;
  const client = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      const got = await cache.get("nodes", build, true);
      answers.hold(got.body);
      const first = got.body[0]!;
      await new Promise((r) => setTimeout(r, Math.random() * 4)); // the socket write
      if (got.body[SIZE - 1] !== first || got.body[SIZE >> 1] !== first) corrupt++;
      answers.release(got.body);
      served++;
    }
  };
  await Promise.all(Array.from({ length: 12 }, client));
  await turn();
  expect(served).toBe(240);
  expect(corrupt).toBe(0);
  expect(version).toBeGreaterThan(20);
  // Most builds wrote into a buffer given back, not new memory.
  expect(answers.reused).toBeGreaterThan(version / 2);
});

test("a body the cache serves is not reused while it is the slot's; small answers are not pooled", async () => {
  const answers = new AnswerBuffers(4, 64 * 1024);
  const cache = new ResponseCache(60_000, undefined, answers);
  const first = await cache.get("k", () => Promise.resolve(answers.alloc(SIZE).fill(7)));
  await turn();
  await turn();
  const other = answers.alloc(SIZE); // the cached body's buffer must not come back here
  expect(other.buffer).not.toBe(first.body.buffer);
  expect(first.body[0]).toBe(7);
  // Replaced by a fresh answer: the old buffer is free again after a turn.
  await cache.get("k", () => Promise.resolve(answers.alloc(SIZE).fill(8)), true);
  await turn();
  await turn();
  expect(answers.alloc(SIZE).buffer).toBe(first.body.buffer);
  const small = answers.alloc(1000);
  answers.hold(small);
  answers.release(small);
  expect(answers.reused).toBe(1);
});

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { ApiAdmission } from "../src/http/api-admission";

// The admission bound of the API: requests beyond the in-flight limit wait in line, beyond the
// line they get 503 with Retry-After; paths outside /v1 are never counted. Real HTTP on loopback.

let server: Server;
let base: string;
const held: (() => void)[] = [];
let started = 0;

beforeAll(async () => {
  const app = express();
  app.use(new ApiAdmission({ maxInFlight: 2, maxQueued: 1, retryAfterSeconds: 2 }).middleware());
  app.get("/v1/slow", (_req, res) => {
    started++;
    held.push(() => res.json({ ok: true }));
  });
  app.get("/healthz", (_req, res) => res.json({ ok: true }));
  await new Promise<void>((r) => (server = app.listen(0, "127.0.0.1", () => r())));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const until = async (what: string, ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
};

test("two in flight, one in line, the fourth refused with 503 and Retry-After; the line moves", async () => {
  const answers = [1, 2, 3].map(() => fetch(`${base}/v1/slow`));
  await until("two requests started", () => started === 2);
  const refused = await fetch(`${base}/v1/slow`);
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("2");
  const body = (await refused.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("RATE_LIMITED");
  expect(body.error.message).toMatch(/at capacity \(2 requests in progress, 1 waiting\)/);
  // Not counted: the health check answers while the API is full.
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  expect(started).toBe(2);

  held.shift()!(); // one finishes: the one in line starts
  await until("the third request started", () => started === 3);
  while (held.length > 0) held.shift()!();
  expect((await Promise.all(answers)).map((r) => r.status)).toEqual([200, 200, 200]);
});

test("a client that leaves while in line is never worked on", async () => {
  started = 0;
  const first = [1, 2].map(() => fetch(`${base}/v1/slow`));
  await until("two requests started", () => started === 2);
  const gone = new AbortController();
  const left = fetch(`${base}/v1/slow`, { signal: gone.signal }).catch(() => "aborted");
  await new Promise((r) => setTimeout(r, 50));
  gone.abort();
  expect(await left).toBe("aborted");
  await new Promise((r) => setTimeout(r, 50));
  // Its place in line is free again: a new request waits instead of being refused.
  const next = fetch(`${base}/v1/slow`);
  held.shift()!();
  await until("the new request started", () => started === 3);
  while (held.length > 0) held.shift()!();
  expect((await Promise.all([...first, next])).map((r) => r.status)).toEqual([200, 200, 200]);
  expect(started).toBe(3);
});

// The services' HTTP limits (sdk/src/http/harden-server.ts) on a real loopback server: a client
// that sends half a header line and then nothing is cut at the headers timeout (with 408), not
// after Node's 60 s + its 30 s check interval; the limits read KON_HTTP_* and name a bad one.
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { KonError } from "../src";
import { createHardenedServer, readHttpLimits } from "../src/internal";

/** Sends half a header line and waits; resolves with what came back and when the server hung up. */
function halfHeaderClient(
  port: number,
  giveUpMs: number,
): Promise<{ closedAfterMs: number | undefined; answer: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let answer = "";
    const socket = connect(port, "127.0.0.1", () => {
      socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaa");
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedAfterMs: undefined, answer });
    }, giveUpMs);
    socket.on("data", (d) => (answer += d.toString()));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - started, answer });
    });
  });
}

async function listening(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

async function closed(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

test("a client that sends half a header line is cut at the headers timeout, with 408", async () => {
  const limits = readHttpLimits({ headersTimeoutMs: 400, requestTimeoutMs: 1000 }, {});
  const hardened = createHardenedServer((_req, res) => res.end("ok"), limits);
  // Node's defaults, as the services had them: the same client is still connected after 3 s.
  const plain = createServer((_req, res) => res.end("ok"));
  const [hp, pp] = await Promise.all([listening(hardened), listening(plain)]);
  try {
    const [h, p] = await Promise.all([halfHeaderClient(hp, 3000), halfHeaderClient(pp, 3000)]);
    expect(h.closedAfterMs).toBeDefined();
    expect(h.closedAfterMs!).toBeLessThan(2000);
    expect(h.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(p.closedAfterMs).toBeUndefined();
  } finally {
    await Promise.all([closed(hardened), closed(plain)]);
  }
});

test("a normal request is served; limits come from KON_HTTP_* after the given ones", async () => {
  const env = {
    KON_HTTP_HEADERS_TIMEOUT_MS: "2000",
    KON_HTTP_REQUEST_TIMEOUT_MS: "4000",
    KON_HTTP_MAX_HEADERS: "50",
  };
  const limits = readHttpLimits({ requestTimeoutMs: 5000 }, env);
  expect(limits).toEqual({
    headersTimeoutMs: 2000,
    requestTimeoutMs: 5000,
    keepAliveTimeoutMs: 5000,
    maxHeadersCount: 50,
  });
  expect(readHttpLimits({}, {})).toEqual({
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5000,
    maxHeadersCount: 100,
  });
  const server = createHardenedServer((_req, res) => res.end("ok"), limits);
  expect(server.headersTimeout).toBe(2000);
  expect(server.maxHeadersCount).toBe(50);
  const port = await listening(server);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe("ok");
  } finally {
    await closed(server);
  }
});

test("a bad value names its field", () => {
  expect(() => readHttpLimits({}, { KON_HTTP_HEADERS_TIMEOUT_MS: "10s" })).toThrow(
    /invalid HTTP option headersTimeoutMs/,
  );
  expect(() =>
    readHttpLimits(
      {},
      { KON_HTTP_HEADERS_TIMEOUT_MS: "20000", KON_HTTP_REQUEST_TIMEOUT_MS: "5000" },
    ),
  ).toThrow(KonError);
});

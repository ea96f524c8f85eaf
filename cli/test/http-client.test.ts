// The HTTP client every command uses, against real local HTTP and HTTPS servers: status → exit
// code, the server's error text, one refresh after a 401, trust of a private CA, timeouts.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

import { testCertificates } from "../../testkit/src/tls";
import { HttpClient } from "../src/client/http-client";
import type { TokenSource } from "../src/client/http-client";
import { CliError, ExitCode } from "../src/exit-codes";

function handler(req: IncomingMessage, res: ServerResponse): void {
  const json = (status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };
  const err = (status: number, code: string, message: string): void =>
    json(status, { error: { code, message, details: {} } });
  switch (req.url) {
    case "/ok":
      return json(200, { ok: true });
    case "/missing":
      return err(404, "NOT_FOUND", "no group nope");
    case "/conflict":
      return err(409, "CONFLICT", "group exists");
    case "/forbidden":
      return err(403, "FORBIDDEN", "this needs the 'write' scope");
    case "/unprocessable":
      return err(422, "UNPROCESSABLE", "refused by the loader");
    case "/broken":
      res.writeHead(500).end("<html>oops</html>");
      return;
    case "/auth":
      return req.headers.authorization === "Bearer fresh"
        ? json(200, { who: "fresh" })
        : err(401, "UNAUTHORIZED", "the token is not valid");
    case "/slow":
      return; // never answers
    default:
      return err(404, "NOT_FOUND", "no route");
  }
}

let http: Server;
let https: Server;
let httpUrl: string;
let httpsUrl: string;
const certs = testCertificates();

const listen = (s: Server) =>
  new Promise<string>((r) =>
    s.listen(0, "127.0.0.1", () => r(String((s.address() as AddressInfo).port))),
  );

beforeAll(async () => {
  http = createServer(handler);
  https = createHttpsServer(
    { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) },
    handler,
  );
  httpUrl = `http://127.0.0.1:${await listen(http)}`;
  httpsUrl = `https://127.0.0.1:${await listen(https)}`;
});
afterAll(async () => {
  for (const s of [http, https]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function failure(p: Promise<unknown>): Promise<CliError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof CliError)) throw new Error(`expected a CliError, got ${String(e)}`);
  return e;
}

test("statuses map to exit codes, with the server's message, the route and its code", async () => {
  const c = new HttpClient("admin API", httpUrl);
  const nf = await failure(c.get("/missing"));
  expect(nf.exitCode).toBe(ExitCode.NotFound);
  expect(nf.message).toBe("no group nope");
  expect(nf.details).toMatchObject({ where: "admin API GET /missing → 404", code: "NOT_FOUND" });
  expect((await failure(c.post("/conflict", {}))).exitCode).toBe(ExitCode.Refused);
  expect((await failure(c.get("/forbidden"))).exitCode).toBe(ExitCode.Refused);
  expect((await failure(c.post("/unprocessable", {}))).exitCode).toBe(ExitCode.Failed);
  const broken = await failure(c.get("/broken"));
  expect(broken.exitCode).toBe(ExitCode.Failed);
  expect(broken.message).toBe("HTTP 500");
  expect(await c.get("/ok")).toEqual({ ok: true });
});

test("a 401 refreshes the token once and retries; without a refresh it says how to sign in", async () => {
  let token = "stale";
  let refreshes = 0;
  const tokens: TokenSource = {
    token: () => Promise.resolve(token),
    refresh: () => {
      refreshes++;
      token = "fresh";
      return Promise.resolve(true);
    },
  };
  expect(await new HttpClient("admin API", httpUrl, tokens).get("/auth")).toEqual({
    who: "fresh",
  });
  expect(refreshes).toBe(1);
  const none: TokenSource = {
    token: () => Promise.resolve("x"),
    refresh: () => Promise.resolve(false),
  };
  const e = await failure(new HttpClient("admin API", httpUrl, none).get("/auth"));
  expect(e.exitCode).toBe(ExitCode.Refused);
  expect(e.details?.hint).toMatch(/kon login/);
});

test("https: an untrusted certificate is unreachable (5) with a CA hint; the CA file fixes it", async () => {
  const untrusted = await failure(new HttpClient("monitor API", httpsUrl).get("/ok"));
  expect(untrusted.exitCode).toBe(ExitCode.Unreachable);
  expect(untrusted.details?.hint).toMatch(/--ca-file|KON_TLS_CA/);
  const trusted = new HttpClient("monitor API", httpsUrl, undefined, { caFile: certs.caFile });
  expect(await trusted.get("/ok")).toEqual({ ok: true });
  const noFile = new HttpClient("monitor API", httpsUrl, undefined, {
    caFile: "/nonexistent/ca.pem",
  });
  expect((await failure(noFile.get("/ok"))).message).toContain("cannot read the CA file");
});

test("a server that does not answer in time is unreachable (5); a bad URL is usage (2)", async () => {
  const slow = await failure(
    new HttpClient("analytics API", httpUrl, undefined, { timeoutMs: 200 }).get("/slow"),
  );
  expect(slow.exitCode).toBe(ExitCode.Unreachable);
  expect(slow.message).toContain("ETIMEDOUT");
  expect((await failure(new HttpClient("admin API", "not a url").get("/ok"))).exitCode).toBe(
    ExitCode.Usage,
  );
  expect((await failure(new HttpClient("admin API", "ftp://x").get("/ok"))).exitCode).toBe(
    ExitCode.Usage,
  );
});

// Several `kon` commands run at once on a session about to expire: each refreshes it, and two
// refreshes with one refresh token are a reuse, which ends the session everywhere. kon refreshes
// under a lock on the credentials file and reads the stored session again once it holds it, so
// one process refreshes and the others use its tokens. The admin runs here with its reuse grace
// period off (KON_ADMIN_REFRESH_REUSE_GRACE_MS=0), so only kon's lock keeps the session alive.
// Real NATS and PostgreSQL, the admin in-process, each kon in a process of its own.
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";

import { AdminHarness } from "../../admin/test/helpers/admin-harness";
import { CliRunner } from "./helpers/cli-runner";

const EMAIL = "ops@example.org";
const PASSWORD = "correct horse battery";
const REPO = resolve(__dirname, "../..");
const RUN_TS = join(REPO, "testkit/src/run-ts.cjs");
const SESSION_USER = join(__dirname, "helpers/session-user.ts");

interface StoredSession {
  accessToken: string;
  accessExpiresAt: string;
  refreshToken: string;
  refreshExpiresAt: string;
}

let h: AdminHarness;
let kon: CliRunner;
let dir: string;
let credentialsFile: string;

beforeAll(async () => {
  h = await AdminHarness.start({ refreshReuseGraceMs: 0 });
  await h.firstAdmin(EMAIL, PASSWORD);
  kon = new CliRunner({ KON_ADMIN_URL: h.admin.url });
  dir = join(kon.configDir, "konorkestra");
  credentialsFile = join(dir, "credentials.json");
});
afterAll(async () => {
  kon?.cleanup();
  await h?.stop();
});

/** Signs in with `kon login`, then makes the stored access token expire in 5 s. */
async function almostExpiredSession(): Promise<StoredSession> {
  const r = await kon.run(["login", "--email", EMAIL, "--password-stdin"], {
    stdin: `${PASSWORD}\n`,
  });
  if (r.code !== 0) throw new Error(`kon login: ${r.stderr}`);
  const all = JSON.parse(readFileSync(credentialsFile, "utf8")) as Record<string, StoredSession>;
  all.local!.accessExpiresAt = new Date(Date.now() + 5000).toISOString();
  writeFileSync(credentialsFile, JSON.stringify(all), { mode: 0o600 });
  return all.local!;
}

function stored(): StoredSession {
  return (JSON.parse(readFileSync(credentialsFile, "utf8")) as Record<string, StoredSession>)
    .local!;
}

interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A process that read the stored session and waits for `go()`. */
class SessionUser {
  readonly ended: Promise<Ended>;
  readonly ready: Promise<void>;
  private out = "";
  private err = "";

  constructor(private readonly p: ChildProcessWithoutNullStreams) {
    this.p.stdout.on("data", (c: Buffer) => (this.out += c.toString("utf8")));
    this.p.stderr.on("data", (c: Buffer) => (this.err += c.toString("utf8")));
    this.ready = new Promise((res, rej) => {
      const look = () => {
        if (this.out.startsWith("ready\n")) res();
      };
      this.p.stdout.on("data", look);
      this.p.on("exit", () => rej(new Error(`ended before ready: ${this.err}`)));
    });
    this.ended = new Promise((res) =>
      this.p.on("close", (code) => res({ code, stdout: this.out, stderr: this.err })),
    );
  }

  static start(): SessionUser {
    return new SessionUser(
      spawn(process.execPath, [RUN_TS, SESSION_USER, dir, h.admin.url], {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? "", HOME: kon.configDir },
        stdio: "pipe",
      }),
    );
  }

  go(): void {
    this.p.stdin.end("go\n");
  }

  /** The access token it used. */
  static token(e: Ended): string {
    return e.stdout.split("\n")[1] ?? "";
  }
}

async function adminStatus(token: string): Promise<number> {
  return (await h.http("GET", "/v1/groups", { token })).status;
}

test("three processes on an almost expired session refresh it once: all succeed, the session lives", async () => {
  for (let round = 0; round < 2; round++) {
    const before = await almostExpiredSession();
    const users = [0, 1, 2].map(() => SessionUser.start());
    await Promise.all(users.map((u) => u.ready));
    for (const u of users) u.go();
    const ended = await Promise.all(users.map((u) => u.ended));
    for (const e of ended)
      expect({ code: e.code, stderr: e.stderr }).toEqual({ code: 0, stderr: "" });
    const now = stored();
    expect(now.refreshToken).not.toBe(before.refreshToken);
    expect(Date.parse(now.accessExpiresAt)).toBeGreaterThan(Date.now() + 60_000);
    // One refresh: every process used the one new pair.
    expect(ended.map((e) => SessionUser.token(e))).toEqual([
      now.accessToken,
      now.accessToken,
      now.accessToken,
    ]);
    // The session was not ended: its token works, and its refresh token still refreshes.
    await new Promise((r) => setTimeout(r, 300));
    expect(await adminStatus(now.accessToken)).toBe(200);
    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    expect(existsSync(`${credentialsFile}.lock`)).toBe(false);
  }
  expect((await kon.run(["group", "list"])).code).toBe(0);
  const r = await h.http("POST", "/v1/auth/refresh", {
    body: { refreshToken: stored().refreshToken },
  });
  expect(r.status).toBe(200);
});

test("a refresh waits while another process holds the lock, and takes over a stale lock", async () => {
  const before = await almostExpiredSession();
  const lock = `${credentialsFile}.lock`;
  writeFileSync(lock, "12345 held\n", { flag: "wx", mode: 0o600 });
  const user = SessionUser.start();
  await user.ready;
  user.go();
  let done = false;
  void user.ended.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 1000));
  expect(done).toBe(false);
  expect(stored().refreshToken).toBe(before.refreshToken);
  // Left by a process that died 31 s ago: taken over.
  const past = (Date.now() - 31_000) / 1000;
  utimesSync(lock, past, past);
  const e = await user.ended;
  expect({ code: e.code, stderr: e.stderr }).toEqual({ code: 0, stderr: "" });
  expect(stored().refreshToken).not.toBe(before.refreshToken);
  expect(SessionUser.token(e)).toBe(stored().accessToken);
  expect(existsSync(lock)).toBe(false);
});

/**
 * A loopback HTTP proxy to the admin that holds every refresh back for `delayMs`, as a slow
 * network would: `kon` commands started a little apart all read the stored session before the
 * first refresh is answered.
 */
async function slowRefreshProxy(delayMs: number): Promise<{ url: string; close: () => void }> {
  const target = new URL(h.admin.url);
  const server = createServer((req, res) => {
    const forward = () => {
      const up = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      up.on("error", () => res.destroy());
      req.pipe(up);
    };
    if (req.url === "/v1/auth/refresh") setTimeout(forward, delayMs);
    else forward();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

test("three `kon group list` at once on an almost expired session all succeed", async () => {
  await almostExpiredSession();
  const proxy = await slowRefreshProxy(2000);
  try {
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: kon.configDir,
      XDG_CONFIG_HOME: kon.configDir,
    };
    const runs = [0, 1, 2].map(
      () =>
        new Promise<Ended>((res) => {
          const p = spawn(
            process.execPath,
            [RUN_TS, join(REPO, "cli/src/bin.ts"), "-q", "group", "list"],
            { cwd: REPO, env: { ...env, KON_ADMIN_URL: proxy.url }, stdio: "pipe" },
          );
          let stdout = "";
          let stderr = "";
          p.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
          p.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
          p.on("close", (code) => res({ code, stdout, stderr }));
        }),
    );
    for (const e of await Promise.all(runs)) {
      expect({ code: e.code, stderr: e.stderr }).toEqual({ code: 0, stderr: "" });
    }
  } finally {
    proxy.close();
  }
  await new Promise((r) => setTimeout(r, 300));
  expect(await adminStatus(stored().accessToken)).toBe(200);
  const r = await h.http("POST", "/v1/auth/refresh", {
    body: { refreshToken: stored().refreshToken },
  });
  expect(r.status).toBe(200);
});

test("kon logout writes the credentials under the same lock: it waits while another process holds it", async () => {
  await almostExpiredSession();
  const lock = `${credentialsFile}.lock`;
  writeFileSync(lock, "12345 held\n", { flag: "wx", mode: 0o600 });
  let done = false;
  const out = kon.run(["logout"]).finally(() => (done = true));
  await new Promise((r) => setTimeout(r, 1500));
  // The session is ended at the admin, but the file is not rewritten under a refresh's feet.
  expect(done).toBe(false);
  expect(stored()).toBeDefined();
  unlinkSync(lock);
  const r = await out;
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  expect(JSON.parse(readFileSync(credentialsFile, "utf8"))).toEqual({});
  expect(existsSync(lock)).toBe(false);
});

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listenUnix } from "../src/agent/unix-socket";
import { queryParams, revisionParam, secondsParam } from "../src/agent/agent-request";
import { AgentHttpError } from "../src/agent/agent-http-error";
import { CliError } from "../src/exit-codes";

describe("listenUnix", () => {
  let dir: string;
  const servers: Server[] = [];
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "kon-sock-"))));
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  const server = (): Server => {
    const s = createServer((_q, r) => r.end("ok"));
    servers.push(s);
    return s;
  };

  test("binds with the mode asked for and removes its file on close", async () => {
    const path = join(dir, "a.sock");
    const bound = await listenUnix(server(), path, { mode: 0o660 });
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    await bound.close();
    expect(() => statSync(path)).toThrow();
  });

  test("a stale socket file is replaced; a live one and a plain file are refused", async () => {
    const path = join(dir, "b.sock");
    const first = server();
    await listenUnix(first, path, { mode: 0o600 });
    // live: refused with exit code 4, the first keeps its file
    await expect(listenUnix(server(), path, { mode: 0o600 })).rejects.toMatchObject({
      exitCode: 4,
    });
    await new Promise((r) => first.close(r));
    // stale: a process that listened there was killed, its socket file stays
    const killed = spawnSync(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(killed.signal).toBe("SIGKILL");
    expect(statSync(path).isSocket()).toBe(true);
    const again = await listenUnix(server(), path, { mode: 0o600 });
    await again.close();

    const plain = join(dir, "plain");
    writeFileSync(plain, "not a socket");
    await expect(listenUnix(server(), plain, { mode: 0o600 })).rejects.toThrow(
      /exists and is not a socket/,
    );
  });

  test("the socket file is given to the group asked for", async () => {
    const path = join(dir, "g.sock");
    const gid = process.getgid!();
    const bound = await listenUnix(server(), path, { mode: 0o660, group: String(gid) });
    expect(statSync(path).gid).toBe(gid);
    await bound.close();
  });

  test("an unknown socket group is a usage error", async () => {
    const err = await listenUnix(server(), join(dir, "c.sock"), {
      mode: 0o660,
      group: "no-such-group-kon",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
  });
});

describe("query parameters", () => {
  test("unknown and repeated parameters are refused by name", () => {
    const url = new URL("http://kon/v1/config/a?wait=1&wiat=2");
    expect(() => queryParams(url, ["wait"])).toThrow(/unknown query parameter "wiat"/);
    expect(() => queryParams(new URL("http://kon/?wait=1&wait=2"), ["wait"])).toThrow(/twice/);
  });

  test("revisions are decimal digits, timeouts bounded seconds", () => {
    expect(revisionParam("wait", "42")).toBe(42);
    for (const bad of ["0x10", "1e3", "-1", "", " 4"]) {
      expect(() => revisionParam("wait", bad)).toThrow(AgentHttpError);
    }
    expect(secondsParam("timeout", "0.5", 300)).toBe(0.5);
    expect(() => secondsParam("timeout", "0", 300)).toThrow(/more than 0/);
    expect(() => secondsParam("timeout", "301", 300)).toThrow(/at most 300/);
  });
});

import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  flattenToEnv,
  isEnvPrefix,
  renderAtomically,
  renderTargetProblem,
} from "../src/run/config-output";
import { exitCodeOf } from "../src/run/child-supervisor";
import { CliRunner } from "./helpers/cli-runner";

describe("flattenToEnv", () => {
  test("nested objects and arrays become PREFIX_ names; scalars as text", () => {
    expect(
      flattenToEnv("APP", {
        db: { host: "h", port: 5432, "read-only": true },
        hosts: ["a", "b"],
        empty: null,
      }),
    ).toEqual({
      APP_DB_HOST: "h",
      APP_DB_PORT: "5432",
      APP_DB_READ_ONLY: "true",
      APP_HOSTS_0: "a",
      APP_HOSTS_1: "b",
      APP_EMPTY: "",
    });
  });

  test("a value that is not an object is the prefix itself", () => {
    expect(flattenToEnv("GREETING", "hello")).toEqual({ GREETING: "hello" });
  });

  test("two paths mapping to one name are refused, naming both", () => {
    expect(() => flattenToEnv("APP", { "a-b": 1, a_b: 2 })).toThrow(
      "config paths /a-b and /a_b both map to APP_A_B",
    );
  });

  test("prefixes are environment names", () => {
    expect(isEnvPrefix("APP_1")).toBe(true);
    expect(isEnvPrefix("1APP")).toBe(false);
    expect(isEnvPrefix("A-B")).toBe(false);
  });
});

describe("renderAtomically", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "kon-render-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("replaces the file whole, 0600, and leaves no temp file", () => {
    const file = join(dir, "c.json");
    writeFileSync(file, "old", { mode: 0o644 });
    renderAtomically(file, { a: 1 });
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ a: 1 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["c.json"]);
  });

  test("a missing directory is an error naming the file and why, and writes nothing", () => {
    const file = join(dir, "no/c.json");
    expect(() => renderAtomically(file, 1)).toThrow(
      `cannot render to ${file}: its directory ${join(dir, "no")} does not exist (create it first)`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  test("renderTargetProblem names a missing, non-directory or directory target", () => {
    expect(renderTargetProblem(join(dir, "c.json"))).toBeUndefined();
    expect(renderTargetProblem(join(dir, "no/c.json"))).toBe(
      `its directory ${join(dir, "no")} does not exist (create it first)`,
    );
    writeFileSync(join(dir, "f"), "");
    expect(renderTargetProblem(join(dir, "f/c.json"))).toBe(`${join(dir, "f")} is not a directory`);
    expect(renderTargetProblem(dir)).toBe(`${dir} is a directory`);
  });
});

describe("kon run --render into a missing directory", () => {
  const kon = new CliRunner();
  afterAll(() => kon.cleanup());

  test("is a usage error (exit 2) saying what, where and why, before any connection", async () => {
    const file = join(tmpdir(), `kon-no-such-dir-${process.pid}`, "config.json");
    // No NATS is configured: the flag check must come first, or this would be a connect error.
    const r = await kon.run(["run", "--key", "service1", "--render", file, "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `kon: cannot render to --render ${file}: its directory ${join(file, "..")} does not exist (create it first)`,
    );
    expect(r.stderr).not.toMatch(/ENOENT/);
  });
});

test("exit codes: the child's, 128 + signal, 127 when it cannot start", () => {
  expect(exitCodeOf({ code: 7, signal: null, stopRequested: false })).toBe(7);
  expect(exitCodeOf({ code: null, signal: "SIGTERM", stopRequested: true })).toBe(143);
  expect(exitCodeOf({ code: null, signal: null, stopRequested: false, spawnError: "ENOENT" })).toBe(
    127,
  );
});

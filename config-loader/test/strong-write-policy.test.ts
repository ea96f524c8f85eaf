import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readGroupSettings } from "../src/group-settings";
import { readWriteIntent } from "../src/write-intents";
import { WritePolicies } from "../src/write-policy";

// The files that decide a write's consistency and activation instant, on a real folder.
const SHA = "ab".repeat(32);
let dir: string;
const warnings: string[] = [];
const logger = {
  info: () => undefined,
  warn: (m: string) => warnings.push(m),
  error: () => undefined,
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kon-policy-"));
  mkdirSync(join(dir, ".kon", "intents"), { recursive: true });
  warnings.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const settings = (text: string): void => writeFileSync(join(dir, ".kon", "settings.yaml"), text);
const intent = (key: string, o: unknown): void =>
  writeFileSync(join(dir, ".kon", "intents", `${key}.json`), JSON.stringify(o));

describe("group settings", () => {
  it("defaults without a file; reads consistency and the prepare timeout", async () => {
    expect((await readGroupSettings(dir)).settings).toMatchObject({
      consistency: "eventual",
      prepareTimeoutMs: 3000,
    });
    settings("consistency: strong\nprepare_timeout_ms: 1500\nhistory: 40\n");
    expect(await readGroupSettings(dir)).toEqual({
      settings: {
        consistency: "strong",
        prepareTimeoutMs: 1500,
        history: 40,
        maxBytes: undefined,
        tombstoneGraceMs: undefined,
      },
    });
  });

  it("a bad field falls back to the defaults and names the field", async () => {
    settings("consistency: strongest\n");
    const r = await readGroupSettings(dir);
    expect(r.settings.consistency).toBe("eventual");
    expect(r.problem).toContain("consistency");
    expect(r.problem).toContain("settings.yaml");
  });
});

describe("write intents", () => {
  it("applies only to the content whose sha256 it names", async () => {
    intent("app", {
      sha256: SHA,
      consistency: "strong",
      activate_at_ms: 1_900_000_000_000,
      author: "Ada <a@x>",
    });
    expect(await readWriteIntent(dir, "app", SHA)).toEqual({
      kind: "intent",
      intent: {
        sha256: SHA,
        consistency: "strong",
        activateAtMs: 1_900_000_000_000,
        author: "Ada <a@x>",
        changeId: undefined,
        requestedAtMs: undefined,
      },
    });
    expect(await readWriteIntent(dir, "app", "cd".repeat(32))).toEqual({ kind: "other-content" });
    expect(await readWriteIntent(dir, "other", SHA)).toEqual({ kind: "none" });
  });

  it("an invalid intent is reported, not applied", async () => {
    intent("app", { sha256: "nope", consistency: "strong" });
    const r = await readWriteIntent(dir, "app", SHA);
    expect(r.kind).toBe("invalid");
    expect(r.kind === "invalid" && r.problem).toContain("sha256");
  });

  it("policies: the intent wins for its content, the folder default for the rest; problems logged once", async () => {
    settings("consistency: strong\n");
    intent("app", { sha256: SHA, consistency: "eventual", activate_at_ms: 1_900_000_000_000 });
    intent("bad", { sha256: 1 });
    const policies = new WritePolicies(logger);
    const puts = [
      { key: "app", sha256: SHA },
      { key: "db", sha256: SHA },
      { key: "bad", sha256: SHA },
    ];
    const p = await policies.resolve("g", dir, puts);
    expect(p.of("app")).toEqual({
      consistency: "eventual",
      activateAtMs: 1_900_000_000_000,
      author: undefined,
    });
    expect(p.of("db")).toEqual({ consistency: "strong", activateAtMs: 0 });
    expect(p.of("bad")).toEqual({ consistency: "strong", activateAtMs: 0 });
    await policies.resolve("g", dir, puts);
    expect(warnings.filter((w) => w.includes("bad.json"))).toHaveLength(1);
  });
});

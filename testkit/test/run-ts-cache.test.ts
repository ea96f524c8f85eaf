import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RUN_TS } from "@konorkestra/testkit";

// A TypeScript entry that says which value it was built with and whether TypeScript's compiler
// was loaded to run it.
const entry = (value: number): string => `
const value: number = ${value};
const compiler = Object.keys(require.cache).some((k) => k.endsWith("typescript.js"));
console.log(JSON.stringify({ value, compiler }));
`;

describe("run-ts transpile cache", () => {
  let dir: string;
  let cache: string;
  let file: string;
  const run = (setting = cache): { value: number; compiler: boolean } =>
    JSON.parse(
      execFileSync(process.execPath, [RUN_TS, file], {
        env: { ...process.env, KON_RUN_TS_CACHE: setting },
        encoding: "utf8",
      }),
    ) as { value: number; compiler: boolean };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kon-run-ts-test-"));
    cache = join(dir, "cache");
    file = join(dir, "entry.ts");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("transpiles once, then runs from the cache without loading TypeScript", () => {
    writeFileSync(file, entry(1));
    expect(run()).toEqual({ value: 1, compiler: true });
    expect(readdirSync(cache).filter((f) => f.endsWith(".js"))).toHaveLength(1);
    expect(run()).toEqual({ value: 1, compiler: false });
  });

  it("transpiles an edited file again (no stale output)", () => {
    writeFileSync(file, entry(2));
    expect(run()).toEqual({ value: 2, compiler: true });
    expect(run()).toEqual({ value: 2, compiler: false });
    expect(readdirSync(cache).filter((f) => f.endsWith(".js"))).toHaveLength(2);
  });

  it("KON_RUN_TS_CACHE=off transpiles every time", () => {
    expect(run("off")).toEqual({ value: 2, compiler: true });
  });
});

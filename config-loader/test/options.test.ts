import { resolve } from "node:path";
import { parseConfigLoaderOptions } from "../src/options";

describe("parseConfigLoaderOptions", () => {
  it("applies defaults", () => {
    const o = parseConfigLoaderOptions({}, { KON_CONFIG_DIR: "cfg" });
    expect(o).toMatchObject({
      configDir: resolve("cfg"),
      servers: ["nats://127.0.0.1:4222"],
      prefix: "kon",
      host: "127.0.0.1",
      port: 7001,
      maxValueBytes: 1048576,
      debounceMs: 50,
      debounceMaxMs: 1000,
      keepDeleted: false,
      replicas: 1,
      history: 64,
      resyncMs: 60000,
      git: true,
    });
    expect(o.loaderId).toMatch(/^config-loader:/);
  });

  it("reads KON_* variables; given options win", () => {
    const env = {
      KON_CONFIG_DIR: "/x",
      KON_SERVERS: "nats://a:1, nats://b:2",
      KON_KEEP_DELETED: "1",
      KON_MAX_VALUE_BYTES: "2048",
      KON_REPLICAS: "3",
      KON_HISTORY: "32",
      KON_LOADER_PORT: "9000",
    };
    const o = parseConfigLoaderOptions({ port: 0 }, env);
    expect(o).toMatchObject({
      configDir: "/x",
      servers: ["nats://a:1", "nats://b:2"],
      keepDeleted: true,
      maxValueBytes: 2048,
      replicas: 3,
      history: 32,
      port: 0,
    });
  });

  it("reads booleans as every Konorkestra process does (on/off, true/false, yes/no, 1/0)", () => {
    const parse = (env: Record<string, string>) =>
      parseConfigLoaderOptions({ configDir: "/x" }, env);
    expect(parse({ KON_GIT: "off", KON_KEEP_DELETED: "on" })).toMatchObject({
      git: false,
      keepDeleted: true,
    });
    expect(parse({ KON_GIT: "0", KON_KEEP_DELETED: "YES" })).toMatchObject({
      git: false,
      keepDeleted: true,
    });
    expect(parse({ KON_GIT: "", KON_KEEP_DELETED: " " })).toMatchObject({
      git: true,
      keepDeleted: false,
    });
    expect(() => parse({ KON_GIT: "nope" })).toThrow(/KON_GIT="nope": use on\/off/);
  });

  it.each([
    [{}, {}, /invalid option configDir: required \(set KON_CONFIG_DIR/],
    [{ configDir: "/x" }, { KON_HISTORY: "10" }, /invalid option history: at least 32/],
    [{ configDir: "/x" }, { KON_LOADER_PORT: "abc" }, /invalid option port/],
    [{ configDir: "/x", prefix: "Bad" }, {}, /invalid option prefix/],
  ])("names the bad field: %j %j", (given, env, msg) => {
    expect(() => parseConfigLoaderOptions(given, env)).toThrow(msg);
  });
});

import { z } from "zod";
import { KonError } from "../src";
import {
  envBool,
  envList,
  envNumber,
  envString,
  mergeNatsOptions,
  natsOptionsShape,
  parseOptionsWith,
} from "../src/internal";

describe("environment readers (one meaning for every service)", () => {
  it("reads switches as on/off, true/false, yes/no, 1/0 in any case; empty is the default", () => {
    for (const on of ["on", "ON", " true ", "Yes", "1"]) {
      expect(envBool({ X: on }, "X")).toBe(true);
    }
    for (const off of ["off", "False", "no", "0", " OFF"]) {
      expect(envBool({ X: off }, "X")).toBe(false);
    }
    expect(envBool({}, "X")).toBeUndefined();
    expect(envBool({ X: "" }, "X")).toBeUndefined();
    expect(envBool({ X: "  " }, "X")).toBeUndefined();
  });

  it("refuses a switch it cannot read, naming the variable", () => {
    expect(() => envBool({ KON_GIT: "maybe" }, "KON_GIT")).toThrow(KonError);
    expect(() => envBool({ KON_GIT: "maybe" }, "KON_GIT")).toThrow(
      /invalid KON_GIT="maybe": use on\/off/,
    );
  });

  it("reads decimal numbers only; anything else is NaN for the schema to refuse", () => {
    expect(envNumber({ N: "42" }, "N")).toBe(42);
    expect(envNumber({ N: " -1.5 " }, "N")).toBe(-1.5);
    expect(envNumber({ N: "1e3" }, "N")).toBe(1000);
    expect(envNumber({ N: "" }, "N")).toBeUndefined();
    for (const bad of ["0x10", "12ms", "1_000", "Infinity", "--1", "."]) {
      expect(envNumber({ N: bad }, "N")).toBeNaN();
    }
  });

  it("reads strings and lists, blank meaning unset", () => {
    expect(envString({ S: "a b" }, "S")).toBe("a b");
    expect(envString({ S: " " }, "S")).toBeUndefined();
    expect(envList({ L: " a, b,,c ," }, "L")).toEqual(["a", "b", "c"]);
    expect(envList({ L: " , " }, "L")).toBeUndefined();
  });
});

describe("common NATS options", () => {
  const schema = z.object(natsOptionsShape);

  it("takes given options over KON_* variables over defaults", () => {
    const env = { KON_SERVERS: "nats://a:1, nats://b:2", KON_PREFIX: "stg", KON_REPLICAS: "3" };
    expect(parseOptionsWith(schema, mergeNatsOptions({}, env), "test")).toEqual({
      servers: ["nats://a:1", "nats://b:2"],
      prefix: "stg",
      replicas: 3,
    });
    expect(
      parseOptionsWith(schema, mergeNatsOptions({ prefix: "kon", servers: "nats://c:3" }, env), ""),
    ).toMatchObject({ servers: ["nats://c:3"], prefix: "kon" });
    expect(parseOptionsWith(schema, mergeNatsOptions({}, {}), "")).toMatchObject({
      servers: ["nats://127.0.0.1:4222"],
      prefix: "kon",
      replicas: 1,
    });
  });

  it("names the bad field and the kind of options", () => {
    expect(() =>
      parseOptionsWith(schema, mergeNatsOptions({}, { KON_REPLICAS: "0x3" }), "monitor"),
    ).toThrow(/^invalid monitor option replicas: /);
    expect(() => parseOptionsWith(schema, mergeNatsOptions({ prefix: "Bad" }, {}), "")).toThrow(
      /^invalid option prefix: use 1-16/,
    );
    expect(() => parseOptionsWith(schema, mergeNatsOptions({ servers: " , " }, {}), "")).toThrow(
      /servers: at least one server/,
    );
  });
});

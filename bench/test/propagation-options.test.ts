import { parsePropagationOptions } from "../src/propagation/propagation-options";

describe("bench:propagation flags", () => {
  test("--repeat defaults to one run and takes a count; a bad one is refused by name", () => {
    expect(parsePropagationOptions([]).repeat).toBe(1);
    expect(parsePropagationOptions(["--repeat", "5"]).repeat).toBe(5);
    expect(() => parsePropagationOptions(["--repeat", "0"])).toThrow(/--repeat/);
  });
});

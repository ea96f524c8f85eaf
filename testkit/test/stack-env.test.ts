import { parseStackEnv } from "../src/stack-env";

describe("parseStackEnv", () => {
  it("reads the known keys and ignores comments and others", () => {
    const env = parseStackEnv(
      [
        "# Written by scripts/deps.sh",
        "KON_NATS_SERVER=/x/.stack/bin/nats-server",
        "KON_PG_ROOT=",
        "KON_PG_BIN=/usr/lib/postgresql/18/bin",
        "OTHER=1",
        "",
      ].join("\n"),
    );
    expect(env).toEqual({
      KON_NATS_SERVER: "/x/.stack/bin/nats-server",
      KON_PG_ROOT: "",
      KON_PG_BIN: "/usr/lib/postgresql/18/bin",
    });
  });
});

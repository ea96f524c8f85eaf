// `kon context …` and what every command resolves from it: no servers needed.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

import { parseDuration } from "../src/commands/duration";
import { ExitCode } from "../src/exit-codes";
import { renderTable } from "../src/output/output";
import { CliRunner } from "./helpers/cli-runner";

let kon: CliRunner;
beforeEach(() => {
  kon = new CliRunner();
});
afterEach(() => kon.cleanup());

const showSchema = z.strictObject({
  context: z.string(),
  stored: z.boolean(),
  configDir: z.string(),
  settings: z.record(
    z.enum(["adminUrl", "analyticsUrl", "monitorUrl", "loaderUrl", "natsUrl", "caFile"]),
    z.strictObject({
      value: z.string().nullable(),
      source: z.enum(["env", "context", "default"]),
    }),
  ),
  token: z.strictObject({
    origin: z.enum(["flag", "env", "session", "api-token", "none"]),
    email: z.string().nullable(),
  }),
});

test("with no context, the local stack's defaults are used", async () => {
  const s = showSchema.parse(await kon.json(["context", "show"]));
  expect(s.context).toBe("local");
  expect(s.stored).toBe(false);
  expect(s.settings.adminUrl).toEqual({ value: "http://127.0.0.1:7004", source: "default" });
  expect(s.settings.natsUrl).toEqual({ value: "nats://127.0.0.1:4222", source: "default" });
  expect(s.token.origin).toBe("none");
  expect((await kon.run(["context", "list"])).stdout).toContain("no contexts yet");
});

test("set, list (golden), use, show with env overrides, delete", async () => {
  const set = await kon.run(
    [
      "context",
      "set",
      "prod",
      "--admin-url",
      "https://kon.example.org:7004/",
      "--ca-file",
      "ca.pem",
    ],
    { env: { PWD: "/" } },
  );
  expect(set.code).toBe(0);
  expect(set.stderr).toMatch(/warning: .*ca\.pem does not exist/);
  expect(
    (await kon.run(["context", "set", "staging", "--monitor-url", "http://10.0.0.2:7002"])).code,
  ).toBe(0);
  const list = await kon.run(["context", "list"]);
  expect(list.stdout).toBe(
    [
      "CURRENT  NAME     ADMIN                          ANALYTICS  MONITOR               SIGNED IN",
      "*        prod     https://kon.example.org:7004/  (default)  (default)             -",
      "         staging  (default)                      (default)  http://10.0.0.2:7002  -",
      "",
    ].join("\n"),
  );
  expect((await kon.run(["context", "use", "staging"])).code).toBe(0);
  const shown = showSchema.parse(
    await kon.json(["context", "show"], { env: { KON_ADMIN_URL: "http://127.0.0.1:9/" } }),
  );
  expect(shown.context).toBe("staging");
  expect(shown.settings.adminUrl).toEqual({ value: "http://127.0.0.1:9", source: "env" });
  expect(shown.settings.monitorUrl).toEqual({ value: "http://10.0.0.2:7002", source: "context" });
  const byFlag = showSchema.parse(await kon.json(["--context", "prod", "context", "show"]));
  expect(byFlag.settings.adminUrl.value).toBe("https://kon.example.org:7004");
  expect(byFlag.settings.caFile.value).toMatch(/^\/.*ca\.pem$/);
  expect((await kon.run(["context", "set", "prod", "--unset", "caFile"])).code).toBe(0);
  expect((await kon.run(["context", "delete", "staging"])).code).toBe(0);
  const after = z
    .object({ current: z.string().nullable(), contexts: z.array(z.object({ name: z.string() })) })
    .parse(await kon.json(["context", "list"]));
  expect(after).toMatchObject({ current: null, contexts: [{ name: "prod" }] });
  const file = join(kon.configDir, "konorkestra", "config.json");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
    contexts: { prod: { adminUrl: "https://kon.example.org:7004/" } },
  });
});

test("unknown contexts are not found (3); bad names, URLs and fields are usage errors (2)", async () => {
  expect((await kon.run(["context", "use", "nope"])).code).toBe(ExitCode.NotFound);
  expect((await kon.run(["context", "delete", "nope"])).code).toBe(ExitCode.NotFound);
  const missing = await kon.run(["--context", "nope", "group", "list"]);
  expect(missing.code).toBe(ExitCode.NotFound);
  expect(missing.stderr).toContain('no context named "nope"');
  expect((await kon.run(["context", "set", "a/b"])).code).toBe(ExitCode.Usage);
  expect((await kon.run(["context", "set", "x", "--admin-url", "not a url"])).code).toBe(
    ExitCode.Usage,
  );
  expect((await kon.run(["context", "set", "x", "--unset", "colour"])).code).toBe(ExitCode.Usage);
});

test("a damaged config file is named, with what to do", async () => {
  await kon.run(["context", "set", "prod"]);
  const file = join(kon.configDir, "konorkestra", "config.json");
  writeFileSync(file, "{ not json");
  const r = await kon.run(["context", "list"]);
  expect(r.code).toBe(ExitCode.Failed);
  expect(r.stderr).toContain(`${file} is not valid JSON`);
});

test("tables are borderless, padded by two spaces, without trailing blanks", () => {
  expect(
    renderTable(
      ["A", "LONGER"],
      [
        ["x", "1"],
        ["yyyy", ""],
      ],
    ),
  ).toBe(["A     LONGER", "x     1", "yyyy"].join("\n"));
});

test("durations", () => {
  expect(parseDuration("500ms", "--x")).toBe(500);
  expect(parseDuration("10m", "--x")).toBe(600_000);
  expect(parseDuration("1.5h", "--x")).toBe(5_400_000);
  expect(parseDuration("0", "--x")).toBe(0);
  expect(() => parseDuration("10", "--grace")).toThrow(/--grace: not a duration/);
  expect(() => parseDuration("soon", "--grace")).toThrow(/not a duration/);
});

test("context set refuses URLs its clients cannot speak and URLs with a password (2); show hides one from the environment", async () => {
  for (const [flag, url, why] of [
    [
      "--admin-url",
      "file:///etc/passwd",
      /adminUrl: file: URLs are not spoken here\nhint: use http:\/\/, https:\/\//,
    ],
    ["--nats-url", "http://127.0.0.1:4222", /natsUrl: http: URLs are not spoken here/],
    ["--nats-url", "nats://u:secret@127.0.0.1:4222", /natsUrl: a URL with a user or password/],
    [
      "--monitor-url",
      "http://u:secret@127.0.0.1:7002",
      /monitorUrl: a URL with a user or password/,
    ],
  ] as const) {
    const r = await kon.run(["context", "set", "bad", flag, url]);
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr).toMatch(why);
    expect(r.stderr).not.toContain("u:secret");
  }
  expect((await kon.run(["context", "list"])).stdout).toContain("no contexts yet");
  const env = { KON_SERVERS: "nats://u:secret@127.0.0.1:4222,tls://127.0.0.1:4223" };
  const human = await kon.run(["context", "show"], { env });
  const json = showSchema.parse(await kon.json(["context", "show"], { env }));
  expect(json.settings.natsUrl.value).toBe("nats://***@127.0.0.1:4222,tls://127.0.0.1:4223");
  expect(human.stdout).toContain("nats://***@127.0.0.1:4222");
  expect(human.stdout + JSON.stringify(json)).not.toContain("u:secret");
});

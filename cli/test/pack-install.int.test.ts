// The packages as a user gets them: `npm pack` of proto, sdk and cli, installed into a scratch
// project with nothing else from this repository (`npm install <tarballs> zod`), then a strict
// tsc without @types/node over a consumer file, and an ES module and a CommonJS program that
// connect to a real NATS (test user, TLS) and read a key the test put into the group's bucket.
// Needs the npm registry for the third-party dependencies (the local cache serves it when warm).
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureConfigBucket, wireNames } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { putConfig } from "../../sdk/test/helpers/put-config";
import { manifestProblems, shippedFileProblems } from "./pack-checks";

const run = promisify(execFile);
const ROOT = resolve(__dirname, "..", "..");
const FIXTURES = join(__dirname, "pack-fixtures");
const TSC = require.resolve("typescript/bin/tsc", { paths: [ROOT] });
const PACKAGES = ["proto", "sdk", "cli"] as const;
const GROUP = "packcheck";
const GREETING = { message: "hello from the tarballs", n: 42 };

/**
 * The environment of a child: no KON_* of the host, and none of what npm/npx set for the jest run
 * itself (npm_config_local_prefix would point `npm install` at this repository). The user's npm
 * settings (npm_config_registry, npm_config_cache, ...) pass through.
 */
const INVOCATION =
  /^npm_(package_|lifecycle_|command$|execpath$|node_execpath$|config_(local_prefix|prefix|global_prefix|workspaces?|include_workspace_root)$)/i;
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^KON_/.test(k) && !INVOCATION.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

interface PackResult {
  name: string;
  filename: string;
  files: { path: string }[];
}

describe("npm pack of proto, sdk and cli installs into a fresh project", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let scratch: string;
  let project: string;
  let packed: PackResult[];

  async function packAndInstall(): Promise<void> {
    const dest = join(scratch, "tarballs");
    mkdirSync(dest);
    const { stdout } = await run(
      "npm",
      [
        "pack",
        "--json",
        "--pack-destination",
        dest,
        ...PACKAGES.map((p) => `-w=@konorkestra/${p}`),
      ],
      { cwd: ROOT, env: childEnv(), maxBuffer: 16 << 20 },
    );
    packed = JSON.parse(stdout) as PackResult[];
    const zodRange = (
      JSON.parse(readFileSync(join(ROOT, "sdk", "package.json"), "utf8")) as {
        peerDependencies: Record<string, string>;
      }
    ).peerDependencies.zod;
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "kon-pack-consumer", version: "1.0.0", private: true }),
    );
    await run(
      "npm",
      [
        "install",
        ...packed.map((p) => join(dest, p.filename)),
        `zod@${zodRange}`,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
      ],
      { cwd: project, env: childEnv(), maxBuffer: 16 << 20 },
    );
  }

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "kon-pack-"));
    project = join(scratch, "project");
    mkdirSync(project);
    const servers = (async () => {
      nats = await startNats();
      admin = await connect(nats.clientOptions());
      await ensureConfigBucket(admin, wireNames(), GROUP);
      await putConfig(admin, GROUP, "greeting", GREETING);
    })();
    await Promise.all([servers, packAndInstall()]);
  }, 150_000);

  afterAll(async () => {
    await admin?.close();
    await nats?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("packs the three packages, without .tsbuildinfo", () => {
    expect(packed.map((p) => p.name).sort()).toEqual(
      PACKAGES.map((p) => `@konorkestra/${p}`).sort(),
    );
    for (const p of packed) {
      expect(p.files.map((f) => f.path).filter((f) => f.endsWith(".tsbuildinfo"))).toEqual([]);
      expect(p.files.map((f) => f.path)).toEqual(expect.arrayContaining(["README.md"]));
    }
  });

  it("ships every file a source map or a sourceMappingURL points at", () => {
    for (const p of PACKAGES) {
      expect(shippedFileProblems(join(project, "node_modules", "@konorkestra", p))).toEqual([]);
    }
  });

  it("declares version ranges, zod as the sdk's peer, and engines", () => {
    for (const p of PACKAGES) {
      expect(manifestProblems(join(project, "node_modules", "@konorkestra", p))).toEqual([]);
    }
  });

  it("type-checks a consumer strictly, without @types/node", async () => {
    copyFileSync(join(FIXTURES, "consumer.ts"), join(project, "consumer.ts"));
    const options = {
      strict: true,
      noUncheckedIndexedAccess: true,
      module: "node16",
      moduleResolution: "node16",
      target: "ES2022",
      lib: ["ES2022"],
      types: [],
      noEmit: true,
      skipLibCheck: true,
    };
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({ compilerOptions: options, files: ["consumer.ts"] }),
    );
    // The user's settings, and the same with every .d.ts checked (zod's and nats.js's own types
    // need DOM or node globals; ours must not), side by side.
    const tsc = (...extra: string[]) =>
      run("node", [TSC, "-p", project, ...extra], { cwd: project }).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
      );
    const [user, full] = await Promise.all([tsc(), tsc("--skipLibCheck", "false")]);
    expect(user).toEqual({ code: 0, stdout: "" });
    const ours = full.stdout
      .split("\n")
      .filter((l) => /^(consumer\.ts|node_modules\/@konorkestra\/)/.test(l));
    expect(ours).toEqual([]);
  }, 60_000);

  it("an ES module program connects with KON_* variables and reads the key", async () => {
    copyFileSync(join(FIXTURES, "read-key.mjs"), join(project, "read-key.mjs"));
    const env = childEnv({
      ...nats.clientEnv(),
      KON_GROUP: GROUP,
      KON_NODE_ID: "pack-esm",
      KON_SNAPSHOT_DIR: join(scratch, "state-esm"),
    });
    const { stdout } = await run("node", ["read-key.mjs"], { cwd: project, env, timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual({ module: "esm", group: GROUP, value: GREETING });
  });

  it("a CommonJS program connects with options and reads the key", async () => {
    copyFileSync(join(FIXTURES, "read-key.cjs"), join(project, "read-key.cjs"));
    const opts = {
      ...nats.clientOptions(),
      group: GROUP,
      nodeId: "pack-cjs",
      snapshotDir: join(scratch, "state-cjs"),
    };
    const { stdout } = await run("node", ["read-key.cjs", JSON.stringify(opts)], {
      cwd: project,
      env: childEnv(),
      timeout: 20_000,
    });
    expect(JSON.parse(stdout)).toEqual({ module: "cjs", group: GROUP, value: GREETING });
  });

  it("installs the kon binary, which starts from the installed package", async () => {
    const { stdout } = await run(join(project, "node_modules", ".bin", "kon"), ["--help"], {
      cwd: project,
      env: childEnv(),
      timeout: 20_000,
    });
    expect(stdout).toContain("Usage: kon");
  });
});

import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const pkgDir = join(__dirname, "..");
const committedDir = join(pkgDir, "src", "generated");

describe("src/generated", () => {
  it("is what scripts/generate.mjs makes of the current .proto files", async () => {
    const outDir = await mkdtemp(join(tmpdir(), "kon-proto-gen-"));
    try {
      await promisify(execFile)(process.execPath, [
        join(pkgDir, "scripts", "generate.mjs"),
        "--out",
        outDir,
      ]);
      for (const name of ["konorkestra.js", "konorkestra.d.ts"]) {
        const [fresh, committed] = await Promise.all([
          readFile(join(outDir, name)),
          readFile(join(committedDir, name)).catch(() => Buffer.alloc(0)),
        ]);
        if (!fresh.equals(committed)) {
          throw new Error(`generated code is stale: run npm run proto:generate (${name} differs)`);
        }
      }
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }, 120_000);
});

// tsc compiles only .ts, so the generated CommonJS module and its declarations reach dist/ here.
// Runs before `tsc --build` (the root `npm run build` does): dependents compile against
// dist/index.d.ts, which imports ./generated/konorkestra.
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const from = join(pkgDir, "src", "generated");
const to = join(pkgDir, "dist", "generated");

await mkdir(to, { recursive: true });
for (const name of ["konorkestra.js", "konorkestra.d.ts"]) {
  await copyFile(join(from, name), join(to, name));
}

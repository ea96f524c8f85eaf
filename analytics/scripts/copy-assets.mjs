// Copies the dashboard's chart library (uPlot) from node_modules into public/vendor, so the
// service serves it from its own folder. Run by `npm run build` (after tsc), and by the
// dashboard's browser test before it starts.
import { copyFile, mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(pkgDir, "package.json"));
const uplotDist = dirname(require.resolve("uplot/dist/uPlot.iife.min.js"));
const to = join(pkgDir, "public", "vendor");

await mkdir(to, { recursive: true });
for (const name of ["uPlot.iife.min.js", "uPlot.min.css"]) {
  await copyFile(join(uplotDist, name), join(to, name));
}

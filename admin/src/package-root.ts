import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The admin package directory (the one holding its package.json). Migrations are found from
 * here, because this module runs from `src/` under Jest and from `dist/` after a build.
 */
export function packageRoot(start: string = __dirname): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      const { name } = JSON.parse(readFileSync(pkg, "utf8")) as { name?: string };
      if (name === "@konorkestra/admin") return dir;
    }
    if (dirname(dir) === dir) throw new Error(`admin package root not found above ${start}`);
  }
}

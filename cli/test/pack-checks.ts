// What pack-install.int.test.ts checks in an installed package: the files it ships and its
// manifest. Each check returns the problems it found (empty when the package is fine).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const inside = (root: string, file: string): boolean =>
  file === root || file.startsWith(root + sep);

/** A file the package ships that it should not, or a map or map comment pointing at nothing. */
export function shippedFileProblems(pkgDir: string): string[] {
  const root = resolve(pkgDir);
  const problems: string[] = [];
  const rel = (f: string): string => relative(root, f);
  for (const file of walk(root)) {
    if (file.endsWith(".tsbuildinfo")) problems.push(`${rel(file)}: build info shipped`);
    if (file.endsWith(".map")) {
      const map = JSON.parse(readFileSync(file, "utf8")) as {
        sources?: string[];
        sourceRoot?: string;
      };
      for (const source of map.sources ?? []) {
        const target = resolve(dirname(file), map.sourceRoot ?? "", source);
        if (!inside(root, target) || !existsSync(target)) {
          problems.push(`${rel(file)}: source ${source} is not shipped`);
        }
      }
    } else if (/\.(c|m)?js$|\.d\.ts$/.test(file)) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(file, "utf8"))?.[1];
      if (url && !url.startsWith("data:") && !existsSync(resolve(dirname(file), url))) {
        problems.push(`${rel(file)}: sourceMappingURL ${url} is not shipped`);
      }
    }
  }
  return problems;
}

interface Manifest {
  name: string;
  engines?: { node?: string };
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Exact pins or workspace/file links to our own packages, a zod dependency, a missing engine. */
export function manifestProblems(pkgDir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as Manifest;
  const problems: string[] = [];
  for (const [dep, spec] of Object.entries(pkg.dependencies ?? {})) {
    if (/^(workspace|file|link):/.test(spec)) problems.push(`${dep}: ${spec} is a local link`);
    if (dep.startsWith("@konorkestra/") && !/^[\^~]/.test(spec)) {
      problems.push(`${dep}: ${spec} is a pin, not a range`);
    }
  }
  if (pkg.name === "@konorkestra/sdk") {
    if (pkg.dependencies?.zod) problems.push("zod is a dependency (a second copy for the user)");
    if (!pkg.peerDependencies?.zod) problems.push("zod is not a peer dependency");
  }
  const minNode = /^>=\s*(\d+)/.exec(pkg.engines?.node ?? "")?.[1];
  if (minNode === undefined) problems.push(`engines.node ${pkg.engines?.node} is not a >= range`);
  else if (Number(minNode) > Number(process.versions.node.split(".")[0])) {
    problems.push(`engines.node ${pkg.engines?.node} excludes the Node this test runs on`);
  }
  const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
  for (const entry of Object.values(pkg.exports ?? {})) {
    targets.push(...(typeof entry === "string" ? [entry] : Object.values(entry)));
  }
  for (const t of targets) {
    if (t !== undefined && !existsSync(join(pkgDir, t))) problems.push(`${t} is not shipped`);
  }
  for (const bin of Object.values(pkg.bin ?? {})) {
    if (!readFileSync(join(pkgDir, bin), "utf8").startsWith("#!/usr/bin/env node")) {
      problems.push(`${bin} has no node shebang`);
    }
  }
  return problems;
}

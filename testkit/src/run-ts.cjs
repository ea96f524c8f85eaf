// Runs a TypeScript entry point in a plain node process, for tests that need a real separate
// process (a service to SIGKILL and restart): `node run-ts.cjs file.ts [args]`.
// Files are transpiled on require with TypeScript (as ts-jest does), and `@konorkestra/<pkg>`
// resolves to `<repo>/<pkg>/src` (`@konorkestra/sdk/internal` to `sdk/src/internal.ts`), so nothing needs to be built first.
//
// Transpiling was ~76% of a monitor process's start (~3.3 s of CPU on a quiet machine, more under
// a loaded CI), paid again at every restart of every spawned service. So the output is kept on
// disk, keyed by the source's sha256 with the file name, TypeScript's version and the options;
// TypeScript itself is loaded only on a miss. KON_RUN_TS_CACHE=off transpiles every time;
// KON_RUN_TS_CACHE=<dir> moves the cache (default: node_modules/.cache/kon-run-ts).
const { createHash } = require("node:crypto");
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require("node:fs");
const Module = require("node:module");
const path = require("node:path");

const repo = path.resolve(__dirname, "../..");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  if (request === "@konorkestra/sdk/internal") return path.join(repo, "sdk", "src", "internal.ts");
  const m = /^@konorkestra\/([a-z-]+)$/.exec(request);
  if (m) return path.join(repo, m[1], "src", "index.ts");
  return resolve.call(this, request, parent, ...rest);
};

const cacheSetting = process.env.KON_RUN_TS_CACHE ?? "";
const cacheDir =
  cacheSetting === "off"
    ? undefined
    : cacheSetting || path.join(repo, "node_modules", ".cache", "kon-run-ts");
// Part of every key: a change of TypeScript or of the options below is a miss, not a stale hit.
const tsVersion = require("typescript/package.json").version;
const OPTIONS_KEY = "commonjs es2022 esModuleInterop inlineSourceMap";

let ts;
function transpile(source, filename) {
  ts ??= require("typescript");
  return ts.transpileModule(source, {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      inlineSourceMap: true,
    },
  }).outputText;
}

function cached(source, filename) {
  if (!cacheDir) return transpile(source, filename);
  const key = createHash("sha256")
    .update(`${tsVersion}\0${OPTIONS_KEY}\0${filename}\0`)
    .update(source)
    .digest("hex");
  const file = path.join(cacheDir, `${key}.js`);
  try {
    return readFileSync(file, "utf8");
  } catch {
    // a miss (or an unreadable entry): transpile and store
  }
  const out = transpile(source, filename);
  try {
    mkdirSync(cacheDir, { recursive: true });
    // Written whole under another name and renamed: a process reading at the same time sees
    // the old entry or none, never half of one.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, out);
    renameSync(tmp, file);
  } catch {
    // a read-only or full disk costs speed, not correctness
  }
  return out;
}

require.extensions[".ts"] = (mod, filename) => {
  mod._compile(cached(readFileSync(filename, "utf8"), filename), filename);
};

const entry = path.resolve(process.argv[2]);
process.argv.splice(1, 1); // the entry sees itself as argv[1], as with `node entry.js`
require(entry);

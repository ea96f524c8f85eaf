// Runs a TypeScript entry point in a plain node process, for tests that need a real separate
// process (a service to SIGKILL and restart): `node run-ts.cjs file.ts [args]`.
// Files are transpiled on require with TypeScript (as ts-jest does), and `@konorkestra/<pkg>`
// resolves to `<repo>/<pkg>/src` (`@konorkestra/sdk/internal` to `sdk/src/internal.ts`), so nothing needs to be built first.
const { readFileSync } = require("node:fs");
const Module = require("node:module");
const path = require("node:path");
const ts = require("typescript");

const repo = path.resolve(__dirname, "../..");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  if (request === "@konorkestra/sdk/internal") return path.join(repo, "sdk", "src", "internal.ts");
  const m = /^@konorkestra\/([a-z-]+)$/.exec(request);
  if (m) return path.join(repo, m[1], "src", "index.ts");
  return resolve.call(this, request, parent, ...rest);
};

require.extensions[".ts"] = (mod, filename) => {
  const { outputText } = ts.transpileModule(readFileSync(filename, "utf8"), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      inlineSourceMap: true,
    },
  });
  mod._compile(outputText, filename);
};

const entry = path.resolve(process.argv[2]);
process.argv.splice(1, 1); // the entry sees itself as argv[1], as with `node entry.js`
require(entry);

// One Jest project per workspace. Unit specs are `*.test.ts`; integration specs, which start real
// servers through testkit, are `*.int.test.ts`. `@konorkestra/<pkg>` (and `@konorkestra/sdk/internal`) maps to the package's src, so
// tests never need a build.
const workspaces = require("./package.json").workspaces;

// The root tsconfig sets isolatedModules, so ts-jest only transpiles (fast); `tsc --build` and
// ESLint do the type checking.
const tsJest = ["ts-jest", { tsconfig: "<rootDir>/../tsconfig.json" }];

// Modules whose migrateTemplate(url) the global setup runs once into the template database.
process.env.KON_TEST_PG_TEMPLATE_HOOKS ??= [
  "analytics/src/db/migrate-template.ts",
  "admin/src/db/migrate-template.ts",
]
  .map((p) => require("node:path").join(__dirname, p))
  .filter((p) => require("node:fs").existsSync(p))
  .join(",");

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60_000,
  // Jest's default on a 2-core machine is one worker; most integration tests wait on servers and
  // timers, so two workers cut the suite by a third (538 s → 353 s in one clean-clone run, all
  // passing at load 10). KON_JEST_WORKERS overrides.
  maxWorkers: Number(process.env.KON_JEST_WORKERS ?? 2),
  // One PostgreSQL server per run with a migrated template database; each test file gets a fresh
  // database from it (testkit startPostgres). KON_TEST_PG=off skips it (unit-only runs).
  globalSetup: "<rootDir>/testkit/src/jest-global-setup.ts",
  globalTeardown: "<rootDir>/testkit/src/jest-global-teardown.ts",
  projects: workspaces.map((ws) => ({
    displayName: ws,
    rootDir: `<rootDir>/${ws}`,
    testEnvironment: "node",
    testMatch: ["<rootDir>/test/**/*.test.ts", "<rootDir>/src/**/*.test.ts"],
    transform: { "^.+\\.ts$": tsJest },
    moduleNameMapper: {
      "^@konorkestra/sdk/internal$": "<rootDir>/../sdk/src/internal",
      "^@konorkestra/([a-z-]+)$": "<rootDir>/../$1/src",
    },
  })),
};

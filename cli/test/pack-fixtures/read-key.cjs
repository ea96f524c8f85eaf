// A CommonJS program of a user, run by pack-install.int.test.ts from a scratch project that
// installed only the packed tarballs and zod. The options come as JSON in argv[2].
const { Konorkestra, silentLogger } = require("@konorkestra/sdk");
const { z } = require("zod");

async function main() {
  const kon = await Konorkestra.connect({ ...JSON.parse(process.argv[2]), logger: silentLogger });
  try {
    const greeting = await kon.config(
      "greeting",
      z.object({ message: z.string(), n: z.number().int() }),
    );
    console.log(JSON.stringify({ module: "cjs", group: kon.group, value: greeting.value }));
  } finally {
    await kon.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

// An ES module program of a user, run by pack-install.int.test.ts from a scratch project that
// installed only the packed tarballs and zod. Every option comes from KON_* variables.
import { Konorkestra, silentLogger } from "@konorkestra/sdk";
import { z } from "zod";

const kon = await Konorkestra.connect({ logger: silentLogger });
try {
  const greeting = await kon.config(
    "greeting",
    z.object({ message: z.string(), n: z.number().int() }),
  );
  console.log(JSON.stringify({ module: "esm", group: kon.group, value: greeting.value }));
} finally {
  await kon.close();
}

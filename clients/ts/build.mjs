// Builds @ticksync/client with esbuild.
//
//   node build.mjs                      src/index.ts -> build/lib/index.js (ESM, for bundlers and node)
//   node build.mjs --test [--outdir D]  test/*.test.ts -> D (default build/test) for node --test
//
// The output depends only on the sources, package-lock.json's esbuild
// version and the options below.

import * as esbuild from "esbuild";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const test = args.includes("--test");
const outdirArg = args.indexOf("--outdir");

const common = {
  absWorkingDir: here,
  bundle: true,
  charset: "utf8",
  logLevel: "warning",
  sourcemap: false,
  format: "esm",
};

if (test) {
  const outdir = outdirArg >= 0 ? args[outdirArg + 1] : join(here, "build", "test");
  const entryPoints = readdirSync(join(here, "test"))
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => join("test", f));
  await esbuild.build({
    ...common,
    entryPoints,
    outdir,
    outExtension: { ".js": ".mjs" },
    // Test-only packages (ws, for the fake node) load from node_modules at run time.
    packages: "external",
    platform: "node",
    target: "node20",
  });
} else {
  await esbuild.build({
    ...common,
    entryPoints: ["src/index.ts"],
    outfile: "build/lib/index.js",
    platform: "neutral",
    target: ["es2020"],
  });
}

// Bundle the designer's modeler (assets/modeler/: bpmn-js Modeler + properties panel + our
// spiffworkflow properties) into app/static/vendor/modeler/ with esbuild: modeler.js (the global
// `WuyiModeler`) and properties-panel.css. Called by scripts/copy-vendor.mjs after the copies.
import { cpSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { TOKEN_SIMULATION_ZH, tokenSimulationZh } from "../assets/modeler/token-simulation-zh.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export async function buildModeler(vendor) {
  const { build } = await import("esbuild");
  const out = join(vendor, "modeler");
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(root, "assets", "modeler", "index.js")],
    outfile: join(out, "modeler.js"),
    bundle: true,
    format: "iife",
    globalName: "WuyiModeler",
    minify: true,
    sourcemap: false,
    target: ["es2019"],
    legalComments: "linked",
    logLevel: "warning",
    define: { "process.env.NODE_ENV": '"production"' },
    plugins: [tokenSimulationZh()],
  });
  // every translated file must have been bundled (a label table for a file the package dropped is stale)
  for (const file of Object.keys(TOKEN_SIMULATION_ZH)) {
    if (!existsSync(join(root, "node_modules", "bpmn-js-token-simulation", "lib", file))) {
      throw new Error(`token-simulation-zh: ${file} is gone from bpmn-js-token-simulation`);
    }
  }
  cpSync(join(root, "node_modules", "@bpmn-io", "properties-panel", "dist", "assets", "properties-panel.css"),
         join(out, "properties-panel.css"));
  cpSync(join(root, "node_modules", "bpmn-js-token-simulation", "assets", "css", "bpmn-js-token-simulation.css"),
         join(out, "token-simulation.css"));
  return ["modeler/modeler.js", "modeler/properties-panel.css", "modeler/token-simulation.css"];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildModeler(join(root, "app", "static", "vendor"));
  console.log("build-modeler: app/static/vendor/modeler/");
}

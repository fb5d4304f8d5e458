// Bundle the designer's modeler (assets/modeler/: bpmn-js Modeler + properties panel + our
// spiffworkflow properties) into app/static/vendor/modeler/ with esbuild: modeler.js (the global
// `WuyiModeler`) and properties-panel.css. Called by scripts/copy-vendor.mjs after the copies.
import { cpSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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
  });
  cpSync(join(root, "node_modules", "@bpmn-io", "properties-panel", "dist", "assets", "properties-panel.css"),
         join(out, "properties-panel.css"));
  return ["modeler/modeler.js", "modeler/properties-panel.css"];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildModeler(join(root, "app", "static", "vendor"));
  console.log("build-modeler: app/static/vendor/modeler/");
}

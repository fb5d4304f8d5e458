// Copy the browser builds of the npm packages the pages use into app/static/vendor/.
// Run by `make assets` after `npm ci`; app/static/vendor/ is generated, never committed.
// The designer's modeler is bundled from assets/modeler/ with esbuild (scripts/build-modeler.mjs).
// Pages check for these files and still work (without the diagram or charts) when they are missing.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { buildModeler } from "./build-modeler.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const vendor = join(root, "app", "static", "vendor");

// [package, file or folder inside the package, destination inside vendor/]
const COPIES = [
  ["bpmn-js", "dist/bpmn-navigated-viewer.production.min.js", "bpmn-js/bpmn-navigated-viewer.production.min.js"],
  ["bpmn-js", "dist/bpmn-modeler.production.min.js", "bpmn-js/bpmn-modeler.production.min.js"],
  ["bpmn-js", "dist/assets/diagram-js.css", "bpmn-js/assets/diagram-js.css"],
  ["bpmn-js", "dist/assets/bpmn-js.css", "bpmn-js/assets/bpmn-js.css"],
  ["bpmn-js", "dist/assets/bpmn-font", "bpmn-js/assets/bpmn-font"],
  ["bpmn-js", "LICENSE", "bpmn-js/LICENSE"],
  ["chart.js", "dist/chart.umd.min.js", "chart.js/chart.umd.min.js"],
  ["chart.js", "LICENSE.md", "chart.js/LICENSE.md"],
  // accessibility checks in the browser tests (tests/browser), not loaded by any page
  ["axe-core", "axe.min.js", "axe-core/axe.min.js"],
  ["axe-core", "LICENSE", "axe-core/LICENSE"],
  ["@bpmn-io/properties-panel", "LICENSE", "modeler/LICENSE.properties-panel"],
  ["bpmn-js-properties-panel", "LICENSE", "modeler/LICENSE.bpmn-js-properties-panel"],
  ["bpmn-js-token-simulation", "LICENSE", "modeler/LICENSE.bpmn-js-token-simulation"],
];
// bundled into modeler/modeler.js, listed in versions.json
const BUNDLED = ["bpmn-js-properties-panel", "@bpmn-io/properties-panel", "bpmn-js-token-simulation", "esbuild"];

function version(pkg) {
  return JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
}

const missing = COPIES.filter(([pkg, src]) => !existsSync(join(modules, pkg, src)));
if (missing.length) {
  console.error("copy-vendor: missing in node_modules (run `npm ci` first):");
  for (const [pkg, src] of missing) console.error(`  ${pkg}/${src}`);
  process.exit(1);
}

rmSync(vendor, { recursive: true, force: true });
for (const [pkg, src, dest] of COPIES) {
  const target = join(vendor, dest);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(modules, pkg, src), target, { recursive: true });
}
const built = await buildModeler(vendor);
const versions = Object.fromEntries([...new Set([...COPIES.map(([pkg]) => pkg), ...BUNDLED])]
  .map((pkg) => [pkg, version(pkg)]));
writeFileSync(join(vendor, "versions.json"), JSON.stringify(versions, null, 2) + "\n");
console.log(`copy-vendor: ${COPIES.length + built.length} item(s) into app/static/vendor/ (${Object.entries(versions)
  .map(([pkg, v]) => `${pkg} ${v}`).join(", ")})`);

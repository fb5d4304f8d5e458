// The designer's modeler: bpmn-js Modeler + properties panel + the 五邑流程 properties
// (spiffworkflow namespace). Bundled by scripts/build-modeler.mjs into app/static/vendor/modeler/
// as the global `WuyiModeler`; the page glue lives in app/static/js/modeler.js.
import Modeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
// play a diagram before deploying it (its labels are put in Chinese at build: token-simulation-zh.mjs)
import TokenSimulationModule from "bpmn-js-token-simulation";

import spiffworkflow from "./spiffworkflow.json";
import translate from "./translations.js";
import WuyiPropertiesProvider, { getInstructions, getSpiffProperty } from "./WuyiPropertiesProvider.js";

const WuyiPropertiesModule = {
  __init__: ["wuyiPropertiesProvider"],
  wuyiPropertiesProvider: ["type", WuyiPropertiesProvider],
};
const TranslateModule = { translate: ["value", translate] };

// Spiff reads these references as variable names, not as ids of BPMN elements: bpmn-moddle cannot
// resolve them and would drop them on export. Put them back as plain references.
const NAME_REFERENCES = new Set(["bpmn:loopDataInputRef", "bpmn:loopDataOutputRef"]);

function keepNameReferences(modeler, warnings) {
  const moddle = modeler.get("moddle");
  (warnings || []).forEach((w) => {
    if (w && w.element && NAME_REFERENCES.has(w.property) && /^unresolved reference/.test(w.message || "")) {
      w.element.set(w.property, moddle.create("bpmn:ItemAwareElement", { id: w.value }));
    }
  });
}

/**
 * create({container, propertiesPanel, forms}) -> modeler; modeler.load(xml) imports (keeping the
 * name references) and resolves with the import warnings.
 */
export function create({ container, propertiesPanel, forms }) {
  const modeler = new Modeler({
    container,
    propertiesPanel: {
      parent: propertiesPanel,
      layout: { groups: { general: { open: true }, wuyi: { open: true }, "wuyi-timer": { open: true } } },
    },
    wuyiForms: forms || [],
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, WuyiPropertiesModule, TranslateModule,
      TokenSimulationModule],
    moddleExtensions: { spiffworkflow },
  });
  modeler.load = (xml) => modeler.importXML(xml).then((result) => {
    keepNameReferences(modeler, result.warnings);
    return result;
  });
  return modeler;
}

export { getInstructions, getSpiffProperty };

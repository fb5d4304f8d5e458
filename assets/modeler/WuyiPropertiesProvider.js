// The "五邑流程" properties of a user task (spiffworkflow:properties and instructionsForEndUser)
// and the timer expression of a timer event, as properties-panel entries.
//
// Every change goes through the command stack (one command per edit, so one undo step) and ends up
// in the XML exactly as bpmn/*.bpmn writes it:
//   <bpmn:extensionElements>
//     <spiffworkflow:properties><spiffworkflow:property name="dueIn" value="15WD" /></spiffworkflow:properties>
//     <spiffworkflow:instructionsForEndUser>markdown</spiffworkflow:instructionsForEndUser>
//   </bpmn:extensionElements>
import { Group, SelectEntry, TextAreaEntry, TextFieldEntry, isSelectEntryEdited, isTextAreaEntryEdited,
         isTextFieldEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

const MULTI = "properties-panel.multi-command-executor";
const UPDATE = "element.updateModdleProperties";

// A business duration as the deadline calendar reads it (app/calendar: parse_duration).
const DURATION = /^\s*\d+\s*(WD|CD|WH|H|MIN)\s*$/i;
const PLACEHOLDER = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/;

export const USER_TASK_PROPERTIES = [
  { name: "candidateGroups", label: "候选组", kind: "text",
    description: "可办理此任务的组（组名，多个用英文逗号分隔），也可写 ${变量}，如 ${handler_org}；不填则按泳道分配" },
  { name: "formJsonSchemaFilename", label: "表单 schema 文件", kind: "form", suffix: ".schema.json",
    description: "forms/ 下的 JSON Schema 文件，如 complaint/handle.schema.json" },
  { name: "formUiSchemaFilename", label: "表单 UI schema 文件", kind: "form", suffix: ".uischema.json",
    description: "forms/ 下的 UI schema 文件，如 complaint/handle.uischema.json" },
  { name: "dueIn", label: "办理时限", kind: "duration",
    description: "数字加单位：WD 工作日、CD 自然日、WH 工作小时、H 小时、MIN 分钟，如 15WD、48H、60MIN；也可写 ${变量}" },
  { name: "warnBefore", label: "预警提前量", kind: "duration",
    description: "到期前多久预警，格式同办理时限，如 2WD、4H" },
  { name: "priority", label: "优先级", kind: "priority",
    description: "0–100 的整数，默认 50，数字越大越优先" },
];

// --- reading and writing our extension elements ------------------------------------------------

function extensionValues(bo) {
  const ext = bo.get("extensionElements");
  return ext ? ext.get("values") : [];
}

function propertiesElement(bo) {
  return extensionValues(bo).find((v) => is(v, "spiffworkflow:Properties"));
}

export function getSpiffProperty(element, name) {
  const props = propertiesElement(getBusinessObject(element));
  const found = props && props.get("properties").find((p) => p.get("name") === name);
  return found ? found.get("value") || "" : "";
}

function instructionsElement(bo) {
  return extensionValues(bo).find((v) => is(v, "spiffworkflow:InstructionsForEndUser"));
}

export function getInstructions(element) {
  const found = instructionsElement(getBusinessObject(element));
  return found ? found.get("value") || "" : "";
}

// Commands that make sure the element has bpmn:extensionElements; returns [extensionElements, commands].
function ensureExtensionElements(element, bo, bpmnFactory) {
  let ext = bo.get("extensionElements");
  if (ext) return [ext, []];
  ext = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
  ext.$parent = bo;
  return [ext, [{ cmd: UPDATE, context: { element, moddleElement: bo, properties: { extensionElements: ext } } }]];
}

export function setSpiffProperty(element, name, value, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const text = (value || "").trim();
  const [ext, commands] = ensureExtensionElements(element, bo, bpmnFactory);
  let props = propertiesElement(bo);
  if (!props) {
    if (!text) return;
    props = bpmnFactory.create("spiffworkflow:Properties", { properties: [] });
    props.$parent = ext;
    commands.push({ cmd: UPDATE, context: { element, moddleElement: ext,
                                            properties: { values: [...ext.get("values"), props] } } });
  }
  const list = props.get("properties");
  const existing = list.find((p) => p.get("name") === name);
  if (!text) {
    if (!existing) return;
    commands.push({ cmd: UPDATE, context: { element, moddleElement: props,
                                            properties: { properties: list.filter((p) => p !== existing) } } });
  } else if (existing) {
    commands.push({ cmd: UPDATE, context: { element, moddleElement: existing, properties: { value: text } } });
  } else {
    const prop = bpmnFactory.create("spiffworkflow:Property", { name, value: text });
    prop.$parent = props;
    commands.push({ cmd: UPDATE, context: { element, moddleElement: props, properties: { properties: [...list, prop] } } });
  }
  commandStack.execute(MULTI, commands);
}

export function setInstructions(element, value, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const text = value || "";
  const existing = instructionsElement(bo);
  if (existing) {
    const ext = bo.get("extensionElements");
    const context = text.trim()
      ? { element, moddleElement: existing, properties: { value: text } }
      : { element, moddleElement: ext, properties: { values: ext.get("values").filter((v) => v !== existing) } };
    commandStack.execute(UPDATE, context);
    return;
  }
  if (!text.trim()) return;
  const [ext, commands] = ensureExtensionElements(element, bo, bpmnFactory);
  const created = bpmnFactory.create("spiffworkflow:InstructionsForEndUser", { value: text });
  created.$parent = ext;
  commands.push({ cmd: UPDATE, context: { element, moddleElement: ext,
                                          properties: { values: [...ext.get("values"), created] } } });
  commandStack.execute(MULTI, commands);
}

// --- checks shown at the field (the server checks again on validate and deploy) ------------------

function checkDuration(value) {
  const text = (value || "").trim();
  if (!text || DURATION.test(text) || PLACEHOLDER.test(text)) return null;
  return "格式应为数字加单位（WD、CD、WH、H、MIN），如 15WD、48H";
}

function checkPriority(value) {
  const text = (value || "").trim();
  if (!text) return null;
  const n = Number(text);
  return /^\d+$/.test(text) && n >= 0 && n <= 100 ? null : "应为 0–100 的整数";
}

// --- entries ----------------------------------------------------------------------------------

function PropertyEntry(props) {
  const { element, id, spec } = props;
  const bpmnFactory = useService("bpmnFactory");
  const commandStack = useService("commandStack");
  const debounce = useService("debounceInput");
  const forms = useService("config.wuyiForms", false) || [];
  const common = {
    element, id, label: spec.label, description: spec.description,
    getValue: () => getSpiffProperty(element, spec.name),
    setValue: (value) => setSpiffProperty(element, spec.name, value, bpmnFactory, commandStack),
  };
  if (spec.kind === "form" && forms.length) {
    return SelectEntry({
      ...common,
      getOptions: () => {
        const current = getSpiffProperty(element, spec.name);
        const files = forms.filter((f) => f.endsWith(spec.suffix));
        const options = [{ value: "", label: "（无）" }, ...files.map((f) => ({ value: f, label: f }))];
        if (current && !files.includes(current)) options.push({ value: current, label: `${current}（文件不存在）` });
        return options;
      },
    });
  }
  const validate = spec.kind === "duration" ? checkDuration : spec.kind === "priority" ? checkPriority : undefined;
  return TextFieldEntry({ ...common, debounce, validate });
}

function InstructionsEntry(props) {
  const { element, id } = props;
  const bpmnFactory = useService("bpmnFactory");
  const commandStack = useService("commandStack");
  const debounce = useService("debounceInput");
  return TextAreaEntry({
    element, id, debounce, label: "办理说明", rows: 6, monospace: false,
    description: "显示在任务页顶部，支持 Markdown 和 {{ 变量 }}",
    getValue: () => getInstructions(element),
    setValue: (value) => setInstructions(element, value, bpmnFactory, commandStack),
  });
}

// --- timers -----------------------------------------------------------------------------------

const TIMER_KINDS = [
  { value: "timeDate", label: "日期（timeDate）" },
  { value: "timeDuration", label: "时长（timeDuration）" },
  { value: "timeCycle", label: "周期（timeCycle）" },
];

function timerDefinition(element) {
  const bo = getBusinessObject(element);
  return (bo.get("eventDefinitions") || []).find((d) => is(d, "bpmn:TimerEventDefinition"));
}

function timerKind(definition) {
  return TIMER_KINDS.map((k) => k.value).find((k) => definition.get(k)) || "";
}

function TimerKindEntry(props) {
  const { element, id } = props;
  const bpmnFactory = useService("bpmnFactory");
  const commandStack = useService("commandStack");
  const definition = timerDefinition(element);
  return SelectEntry({
    element, id, label: "定时类型",
    getValue: () => timerKind(definition),
    getOptions: () => [{ value: "", label: "（未设置）" }, ...TIMER_KINDS],
    setValue: (value) => {
      const kind = timerKind(definition);
      if (value === kind) return;
      const old = kind ? definition.get(kind) : null;
      const properties = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
      if (value) {   // keep the expression when only the kind changes
        const expression = bpmnFactory.create("bpmn:FormalExpression", { body: old ? old.get("body") : undefined });
        expression.$parent = definition;
        properties[value] = expression;
      }
      commandStack.execute(UPDATE, { element, moddleElement: definition, properties });
    },
  });
}

function TimerExpressionEntry(props) {
  const { element, id } = props;
  const commandStack = useService("commandStack");
  const debounce = useService("debounceInput");
  const definition = timerDefinition(element);
  const kind = timerKind(definition);
  const expression = definition.get(kind);
  return TextFieldEntry({
    element, id, debounce, label: "定时表达式",
    description: "Python 表达式：due_in(\"15WD\") 或 due_in(变量) 表示按工作日历计算的到期时间；"
      + "也可写 ISO 8601 字符串，如 \"P30D\"、\"R/P7D\"（注意引号）",
    getValue: () => (expression && expression.get("body")) || "",
    setValue: (value) => commandStack.execute(UPDATE, { element, moddleElement: expression,
                                                       properties: { body: value || undefined } }),
    validate: (value) => ((value || "").trim() ? null : "定时表达式不能为空"),
  });
}

// --- the provider -----------------------------------------------------------------------------

export default class WuyiPropertiesProvider {
  constructor(propertiesPanel) {
    propertiesPanel.registerProvider(400, this);   // after the BPMN provider (priority 1000): its groups exist
  }

  getGroups(element) {
    return (groups) => {
      if (is(element, "bpmn:UserTask")) {
        const entries = USER_TASK_PROPERTIES.map((spec) => ({
          id: `wuyi-${spec.name}`, spec, component: PropertyEntry,
          isEdited: spec.kind === "form" ? isSelectEntryEdited : isTextFieldEntryEdited,
        }));
        entries.push({ id: "wuyi-instructions", component: InstructionsEntry, isEdited: isTextAreaEntryEdited });
        groups.splice(Math.min(1, groups.length), 0, { id: "wuyi", label: "五邑流程", component: Group, entries });
      }
      const definition = is(element, "bpmn:Event") ? timerDefinition(element) : null;
      if (definition) {
        const at = groups.findIndex((g) => g.id === "timer");
        const entries = [{ id: "wuyi-timer-kind", component: TimerKindEntry, isEdited: isSelectEntryEdited }];
        if (timerKind(definition)) {
          entries.push({ id: "wuyi-timer-expression", component: TimerExpressionEntry, isEdited: isTextFieldEntryEdited });
        }
        const group = { id: "wuyi-timer", label: "定时器", component: Group, entries };
        if (at >= 0) groups.splice(at, 1, group); else groups.push(group);
      }
      return groups;
    };
  }
}

WuyiPropertiesProvider.$inject = ["propertiesPanel"];

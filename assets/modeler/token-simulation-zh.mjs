// The token simulation's interface in Chinese: bpmn-js-token-simulation writes its labels into its
// HTML templates (no translate service), so the bundler replaces them in its sources. Every
// replacement must apply: a new version that moved a label fails the build instead of showing English.
import { readFileSync } from "node:fs";

const TYPES = {
  "Service Task": "服务任务", "User Task": "用户任务", "Call Activity": "调用活动", "Script Task": "脚本任务",
  "Business Rule Task": "业务规则任务", "Manual Task": "人工任务", "Receive Task": "接收任务",
  "Send Task": "发送任务", "Task": "任务", "Exclusive Gateway": "排他网关", "Parallel Gateway": "并行网关",
  "Inclusive Gateway": "包容网关", "Start Event": "开始事件", "Intermediate Event": "中间事件",
  "Boundary Event": "边界事件", "End Event": "结束事件",
};

export const TOKEN_SIMULATION_ZH = {
  "features/toggle-mode/modeler/ToggleMode.js": [["Token Simulation <span", "流程模拟 <span"]],
  "features/toggle-mode/viewer/ToggleMode.js": [["Token Simulation <span", "流程模拟 <span"]],
  "features/reset-simulation/ResetSimulation.js": [
    ['title="Reset Simulation"', 'title="重置模拟"'], ["text: 'Reset Simulation'", "text: '模拟已重置'"]],
  "features/pause-simulation/PauseSimulation.js": [
    ['title="Play/Pause Simulation"', 'title="播放/暂停模拟"'], ["text: 'Pause Simulation'", "text: '模拟已暂停'"],
    ["text: 'Play Simulation'", "text: '模拟播放中'"]],
  "features/set-animation-speed/SetAnimationSpeed.js": [
    ["Set animation speed = ", "动画速度："], ["'Slow'", "'慢'"], ["'Normal'", "'正常'"], ["'Fast'", "'快'"]],
  "features/context-pads/handler/ExclusiveGatewayHandler.js": [['title="Set Sequence Flow"', 'title="走这条顺序流"']],
  "features/context-pads/handler/InclusiveGatewayHandler.js": [['title="Set Sequence Flow"', 'title="走这条顺序流"']],
  "features/context-pads/handler/PauseHandler.js": [["${ wait ? 'Remove' : 'Add' } pause point", "${ wait ? '移除' : '添加' }暂停点"]],
  "features/context-pads/handler/TriggerHandler.js": [['title="Trigger Event"', 'title="触发事件"']],
  "features/element-support/ElementSupport.js": [
    ["'Found unsupported elements'", "'发现模拟不支持的元素'"], ["'Not supported'", "'不支持'"]],
  "features/simulation-state/SimulationState.js": [["text: 'Finished'", "text: '已完成'"]],
  "features/show-scopes/ShowScopes.js": [['title="Focus process instance ', 'title="聚焦流程实例 ']],
  "features/log/Log.js": [
    ["'SubProcess') : 'Process'", "'子流程') : '流程'"],
    ["completed ? 'finished' : 'canceled'", "completed ? '已结束' : '已取消'"],
    ["} started`", "} 已开始`"],
    ["        Simulation Log", "        模拟日志"],
    ['aria-label="Close"', 'aria-label="关闭"'],
    ["No Entries", "暂无记录"],
    ['title="Toggle Simulation Log"', 'title="显示/隐藏模拟日志"'],
    ...Object.entries(TYPES).map(([en, zh]) => [`elementName || '${en}'`, `elementName || '${zh}'`]),
  ],
};

/** An esbuild plugin applying the table to the package's sources. */
export function tokenSimulationZh(libDir = "bpmn-js-token-simulation/lib") {
  return {
    name: "token-simulation-zh",
    setup(build) {
      build.onLoad({ filter: /bpmn-js-token-simulation[\\/]lib[\\/].*\.js$/ }, (args) => {
        const relative = args.path.slice(args.path.indexOf(libDir) + libDir.length + 1).replaceAll("\\", "/");
        let source = readFileSync(args.path, "utf8");
        for (const [from, to] of TOKEN_SIMULATION_ZH[relative] || []) {
          if (!source.includes(from)) {
            throw new Error(`token-simulation-zh: "${from}" not found in ${relative} (the package changed?)`);
          }
          source = source.split(from).join(to);
        }
        return { contents: source, loader: "js" };
      });
    },
  };
}

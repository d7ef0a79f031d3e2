// Imports each model as bpmn-js does and prints, per file, the warnings bpmn-js would report on import:
// bpmn-moddle's parse warnings (with Camunda's zeebe descriptors), the errors of bpmn-js's BpmnTreeWalker
// (DI that names nothing, an element drawn twice, ...), and flow elements without DI (which bpmn-js skips
// silently, so the diagram would miss them). Usage: node --import ./register.mjs import_models.mjs FILE...
import { readFileSync } from 'node:fs';
import { BpmnModdle } from 'bpmn-moddle';
import zeebe from 'zeebe-bpmn-moddle/resources/zeebe.json' with { type: 'json' };
import BpmnTreeWalker from 'bpmn-js/lib/import/BpmnTreeWalker.js';

const moddle = new BpmnModdle({ zeebe });
const report = {};

function flowElements(container, out) {
  for (const element of container.flowElements || []) {
    out.push(element);
    if (element.flowElements) flowElements(element, out);
  }
  return out;
}

for (const file of process.argv.slice(2)) {
  const warnings = [];
  const { rootElement: definitions, warnings: parseWarnings } = await moddle.fromXML(readFileSync(file, 'utf8'));
  for (const w of parseWarnings) warnings.push(`parse: ${w.message}`);
  const drawn = new Set();
  const walker = new BpmnTreeWalker({
    root(element) { drawn.add(element.id); return element; },
    element(element) { drawn.add(element.id); return element; },
    error(message) { warnings.push(`import: ${message}`); },
  });
  walker.handleDefinitions(definitions);
  const processes = definitions.rootElements.filter(e => e.$type === 'bpmn:Process');
  let count = 0;
  for (const process of processes) {
    for (const element of flowElements(process, [])) {
      count += 1;
      if (!drawn.has(element.id)) warnings.push(`no DI: ${element.$type} ${element.id}`);
    }
  }
  report[file] = { warnings, elements: count, drawn: drawn.size };
}
console.log(JSON.stringify(report));

// BPMN diagrams on work pages: a read-only viewer with the instance's state drawn on it (active
// tokens, incidents, completed elements), and the parsing of the engine's deployment errors into
// element ids so the modeler can mark them. Needs the camunda-cloud-navigated-viewer bundle
// (global BpmnNavigatedViewer) or the modeler bundle loaded first.

import { h, t } from './qly.js';

export function createViewer(container) {
  const Viewer = window.BpmnNavigatedViewer;
  if (!Viewer) throw new Error(t('common.vendor_missing', { name: 'camunda-bpmn-js' }));
  return new Viewer({ container });
}

export async function showXml(viewer, xml) {
  const result = await viewer.importXML(xml);
  viewer.get('canvas').zoom('fit-viewport', 'auto');
  return result.warnings || [];
}

// Mark what an instance is doing. `state` = { active: {elementId: count}, incidents: {elementId: count},
// completed: [elementId] }. Unknown ids (a diagram of another version) are skipped.
export function markInstance(viewer, { active = {}, incidents = {}, completed = [] }) {
  const canvas = viewer.get('canvas');
  const overlays = viewer.get('overlays');
  const registry = viewer.get('elementRegistry');
  overlays.remove({ type: 'instance-state' });
  for (const element of registry.getAll()) {
    for (const marker of ['highlight-active', 'highlight-incident', 'highlight-completed']) canvas.removeMarker(element.id, marker);
  }
  for (const id of completed) {
    if (registry.get(id)) canvas.addMarker(id, 'highlight-completed');
  }
  for (const [id, count] of Object.entries(active)) {
    if (!registry.get(id)) continue;
    canvas.addMarker(id, 'highlight-active');
    overlays.add(id, 'instance-state', {
      position: { bottom: 8, left: -8 },
      html: h('span', { class: 'overlay-badge', title: t('operate.active_tokens') }, String(count)),
    });
  }
  for (const [id, count] of Object.entries(incidents)) {
    if (!registry.get(id)) continue;
    canvas.addMarker(id, 'highlight-incident');
    overlays.add(id, 'instance-state', {
      position: { bottom: 8, right: 8 },
      html: h('span', { class: 'overlay-badge incident', title: t('operate.incidents') }, `⚠ ${count}`),
    });
  }
}

// The engine (ours and Zeebe alike) rejects a deployment with a message listing each element:
//   'order.bpmn': - Element: Task_1
//       - ERROR: Must have exactly one 'zeebe:taskDefinition' extension element
// Returns [{elementId, message}] (elementId null for problems not tied to an element).
export function parseDeploymentErrors(text) {
  const found = [];
  const pattern = /- Element: ([^\n]+)\n((?:\s+- (?:ERROR|WARNING): [^\n]*\n?)+)/g;
  let match;
  while ((match = pattern.exec(text || '')) !== null) {
    const elementId = match[1].trim();
    for (const line of match[2].split('\n')) {
      const item = line.match(/- (ERROR|WARNING): (.*)/);
      if (item) found.push({ elementId: elementId === '?' ? null : elementId, message: item[2].trim(), level: item[1] });
    }
  }
  if (!found.length && text) found.push({ elementId: null, message: text.trim(), level: 'ERROR' });
  return found;
}

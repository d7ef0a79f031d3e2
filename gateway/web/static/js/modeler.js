// The process designer's page: bpmn-js modeler with the Zeebe properties panel (camunda-bpmn-js),
// open a deployed version, validate, deploy (the engine's errors are marked on their elements),
// and forms with the form-js editor.

import { parseDeploymentErrors } from './diagram.js';
import { api, ApiError, clear, fmtDateTime, h, hasRole, lang, requireGlobal, startPage, t, toast } from './qly.js';

const $ = (id) => document.getElementById(id);

// --- the gateway's process API --------------------------------------------------------------------

const processesApi = {
  list: () => api('/api/processes/definitions', { query: { size: 200 } }),
  xml: (definition) => api(`/api/processes/definitions/${definition.key}/xml`, { headers: { Accept: 'application/xml' } }),
  forms: () => api('/api/processes/forms', { query: { size: 200 } }),
  deploy(name, text, type) {
    const body = new FormData();
    body.append('files', new Blob([text], { type }), name);
    return api('/api/processes/deployments', { method: 'POST', body });
  },
};

function items(page) {
  return Array.isArray(page) ? page : page?.items || [];
}

// --- the BPMN modeler -----------------------------------------------------------------------------

const BLANK = (id) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
  xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_${id}" targetNamespace="http://bpmn.io/schema/bpmn"
  exporter="Qianliyan" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.6.0">
  <bpmn:process id="${id}" name="${t('modeler.new_process')}" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="${id}">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1"><dc:Bounds x="180" y="160" width="36" height="36" /></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;

// The palette, context pad and popup menus speak English; these are the entries a designer meets first.
const ZH = {
  'Activate hand tool': '手形工具', 'Activate lasso tool': '套索工具', 'Activate create/remove space tool': '空间工具',
  'Activate global connect tool': '连线工具', 'Create start event': '开始事件', 'Create end event': '结束事件',
  'Create intermediate/boundary event': '中间/边界事件', 'Create gateway': '网关', 'Create task': '任务',
  'Create expanded sub-process': '子流程', 'Create pool/participant': '池/参与者', 'Create data object reference': '数据对象',
  'Create data store reference': '数据存储', 'Create group': '分组', 'Append task': '追加任务', 'Append end event': '追加结束事件',
  'Append gateway': '追加网关', 'Append intermediate/boundary event': '追加中间事件', 'Change element': '更改类型',
  'Delete': '删除', 'Connect to other element': '连接', 'Add text annotation': '添加注释', 'Append element': '追加元素',
  'Create element': '创建元素', 'Search in diagram': '搜索', 'General': '常规', 'Name': '名称', 'ID': '编号',
  'Documentation': '说明', 'Inputs': '输入', 'Outputs': '输出', 'Task definition': '任务定义', 'Type': '类型',
  'Retries': '重试次数', 'Headers': '头信息', 'Assignment': '分派', 'Form': '表单', 'Condition': '条件',
  'Timer': '定时器', 'Message': '消息', 'Multi-instance': '多实例', 'Execution listeners': '执行监听器',
  'Extension properties': '扩展属性', 'Process': '流程', 'Version tag': '版本标签', 'Executable': '可执行',
  'Job priority': '作业优先级', 'Example data': '示例数据', 'Open minimap': '打开小地图', 'Close minimap': '关闭小地图',
};

function translateModule() {
  if (lang() !== 'zh-CN') return [];
  const translate = (template, replacements = {}) =>
    (ZH[template] || template).replace(/{([^}]+)}/g, (_, key) => replacements[key] ?? `{${key}}`);
  return [{ translate: ['value', translate] }];
}

let modeler;
let formEditor;
let currentName = 'process.bpmn';
let currentForm = { name: 'form.form' };

function setStatus(id, text) {
  $(id).textContent = text;
}

function showProblems(container, problems, { onSelect, okText } = {}) {
  if (problems === null) {
    clear(container);
    return;
  }
  if (!problems.length) {
    clear(container, h('p', { class: 'ok' }, okText));
    return;
  }
  clear(container, h('div', { class: 'error-box', role: 'alert' },
    h('strong', {}, t('modeler.problems', { count: problems.length })),
    h('ul', {}, problems.map((p) => h('li', {},
      p.elementId && onSelect
        ? h('button', { type: 'button', class: 'link-button', onclick: () => onSelect(p.elementId) }, p.elementId)
        : null,
      p.elementId ? ': ' : null, p.message)))));
}

function clearErrorMarks() {
  const canvas = modeler.get('canvas');
  modeler.get('overlays').remove({ type: 'deploy-error' });
  for (const element of modeler.get('elementRegistry').getAll()) canvas.removeMarker(element.id, 'highlight-error');
}

function markErrors(problems) {
  clearErrorMarks();
  const canvas = modeler.get('canvas');
  const registry = modeler.get('elementRegistry');
  const overlays = modeler.get('overlays');
  const byElement = new Map();
  for (const p of problems) {
    if (!p.elementId || !registry.get(p.elementId)) continue;
    byElement.set(p.elementId, [...(byElement.get(p.elementId) || []), p.message]);
  }
  for (const [id, messages] of byElement) {
    canvas.addMarker(id, 'highlight-error');
    overlays.add(id, 'deploy-error', {
      position: { bottom: -6, left: 0 },
      html: h('div', { class: 'overlay-error', role: 'note', dataset: { elementId: id } }, messages.join('；')),
    });
  }
}

function selectElement(id) {
  const element = modeler.get('elementRegistry').get(id);
  if (!element) return;
  modeler.get('selection').select(element);
  modeler.get('canvas').scrollToElement(element);
}

// `name` is the file name a deployment will carry; `label` what the status line calls the diagram.
async function openXml(xml, name, label = name) {
  try {
    const { warnings } = await modeler.importXML(xml);
    currentName = name;
    modeler.get('canvas').zoom('fit-viewport', 'auto');
    showProblems($('bpmn-problems'), null);
    setStatus('bpmn-status', warnings.length
      ? t('modeler.opened_warnings', { name: label, count: warnings.length }) : t('modeler.opened', { name: label }));
  } catch (error) {
    showProblems($('bpmn-problems'), [{ elementId: null, message: t('modeler.import_failed', { message: error.message }) }]);
  }
}

async function currentXml() {
  const { xml } = await modeler.saveXML({ format: true });
  return xml;
}

// Checks the engine would also make, done here so a designer sees them before deploying; the engine's
// own answer on deploy stays the authority.
function validate() {
  const problems = [];
  const registry = modeler.get('elementRegistry');
  const processes = registry.filter((e) => e.type === 'bpmn:Process' || e.type === 'bpmn:Participant');
  const executable = processes.map((p) => (p.type === 'bpmn:Participant' ? p.businessObject.processRef : p.businessObject)).filter(Boolean);
  if (!executable.some((p) => p.isExecutable)) problems.push({ elementId: executable[0]?.id || null, message: t('modeler.err_not_executable') });
  if (!registry.filter((e) => e.type === 'bpmn:StartEvent' && e.parent?.type !== 'bpmn:SubProcess').length) {
    problems.push({ elementId: executable[0]?.id || null, message: t('modeler.err_no_start') });
  }
  for (const element of registry.getAll()) {
    const bo = element.businessObject;
    if (!bo || element.type === 'label') continue;
    const needsJob = ['bpmn:ServiceTask', 'bpmn:SendTask'].includes(element.type)
      || (element.type === 'bpmn:BusinessRuleTask' && !findExtension(bo, 'zeebe:CalledDecision'))
      || (element.type === 'bpmn:ScriptTask' && !findExtension(bo, 'zeebe:Script'));
    if (needsJob) {
      const definition = findExtension(bo, 'zeebe:TaskDefinition');
      if (!definition?.type) problems.push({ elementId: element.id, message: t('modeler.err_task_type') });
    }
    if (bo.$instanceOf?.('bpmn:FlowNode') && !['bpmn:BoundaryEvent', 'bpmn:StartEvent'].includes(element.type)
      && !(bo.incoming || []).length && !isEventSubProcessOrCompensation(bo)) {
      problems.push({ elementId: element.id, message: t('modeler.err_no_incoming') });
    }
    if (element.type === 'bpmn:ExclusiveGateway' && (bo.outgoing || []).length > 1) {
      for (const flow of bo.outgoing) {
        if (flow !== bo.default && !flow.conditionExpression) {
          problems.push({ elementId: flow.id, message: t('modeler.err_condition') });
        }
      }
    }
  }
  return problems;
}

function isEventSubProcessOrCompensation(bo) {
  return bo.triggeredByEvent || bo.isForCompensation || bo.$type === 'bpmn:SubProcess' && bo.triggeredByEvent;
}

function findExtension(bo, type) {
  return (bo.extensionElements?.values || []).find((value) => value.$instanceOf?.(type));
}

async function deployBpmn() {
  const local = validate();
  const blocking = local.filter((p) => p.message);
  const xml = await currentXml();
  setStatus('bpmn-status', t('modeler.deploying'));
  $('bpmn-deploy').disabled = true;
  try {
    const result = await processesApi.deploy(currentName, xml, 'application/xml');
    clearErrorMarks();
    const deployed = (result.processes || []).map((p) => `${p.bpmn_process_id} v${p.version}`).join(', ');
    setStatus('bpmn-status', t('modeler.deployed_ok', { what: deployed || currentName }));
    showProblems($('bpmn-problems'), blocking.length ? blocking : [], { onSelect: selectElement, okText: t('modeler.deployed_ok', { what: deployed || currentName }) });
    toast(t('modeler.deployed_ok', { what: deployed || currentName }), 'success');
    await loadProcessList();
  } catch (error) {
    const text = error instanceof ApiError ? error.problem.detail || error.message : error.message;
    const problems = parseDeploymentErrors(text);
    markErrors(problems);
    showProblems($('bpmn-problems'), problems, { onSelect: selectElement });
    setStatus('bpmn-status', t('modeler.deploy_failed'));
  } finally {
    $('bpmn-deploy').disabled = false;
  }
}

async function loadProcessList() {
  const select = $('process-select');
  try {
    const definitions = items(await processesApi.list()).filter((d) => d.has_xml !== false);
    definitions.sort((a, b) => a.bpmn_process_id.localeCompare(b.bpmn_process_id) || b.version - a.version);
    clear(select, h('option', { value: '' }, t('modeler.choose')),
      definitions.map((d) => h('option', { value: String(d.key), dataset: { json: JSON.stringify(d) } },
        `${d.bpmn_process_id} · v${d.version}${d.deployed_at ? ` · ${fmtDateTime(d.deployed_at)}` : ''}`)));
  } catch (error) {
    toast(error, 'error');
  }
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function readFile(input, handle) {
  input.addEventListener('change', async () => {
    const file = input.files[0];
    if (!file) return;
    handle(await file.text(), file.name);
    input.value = '';
  });
}

function setupBpmn() {
  const Modeler = requireGlobal('BpmnModeler', $('canvas'));
  modeler = new Modeler({
    container: $('canvas'),
    propertiesPanel: { parent: $('properties') },
    additionalModules: translateModule(),
  });
  window.qlyModeler = modeler; // for the browser tests and for a designer's console
  openXml(BLANK(`Process_${Math.random().toString(36).slice(2, 9)}`), 'process.bpmn');

  $('process-select').addEventListener('change', async (event) => {
    const option = event.target.selectedOptions[0];
    if (!option?.dataset.json) return;
    const definition = JSON.parse(option.dataset.json);
    try {
      const xml = await processesApi.xml(definition);
      await openXml(xml, definition.resource_name || `${definition.bpmn_process_id}.bpmn`,
        `${definition.bpmn_process_id} v${definition.version}`);
    } catch (error) {
      toast(error, 'error');
    }
  });
  $('bpmn-new').addEventListener('click', () => openXml(BLANK(`Process_${Math.random().toString(36).slice(2, 9)}`), 'process.bpmn'));
  readFile($('bpmn-file'), (text, name) => openXml(text, name));
  $('bpmn-download').addEventListener('click', async () => download(currentName, await currentXml(), 'application/xml'));
  $('bpmn-validate').addEventListener('click', () => {
    const problems = validate();
    markErrors(problems);
    showProblems($('bpmn-problems'), problems, { onSelect: selectElement, okText: t('modeler.valid') });
    setStatus('bpmn-status', problems.length ? t('modeler.problems', { count: problems.length }) : t('modeler.valid'));
  });
  $('bpmn-deploy').addEventListener('click', deployBpmn);
  loadProcessList();
}

// --- forms ------------------------------------------------------------------------------------------

const BLANK_FORM = (id) => ({
  type: 'default', id, schemaVersion: 16, exporter: { name: 'Qianliyan', version: '1' },
  components: [{ type: 'textarea', key: 'comment', label: t('modeler.form_comment'), validate: { required: true } }],
});

async function openForm(schema, name) {
  try {
    await formEditor.importSchema(schema);
    currentForm = { name };
    setStatus('form-status', t('modeler.opened', { name }));
    clear($('form-problems'));
  } catch (error) {
    showProblems($('form-problems'), [{ elementId: null, message: t('modeler.import_failed', { message: error.message }) }]);
  }
}

async function loadFormList() {
  const select = $('form-select');
  try {
    const forms = items(await processesApi.forms());
    clear(select, h('option', { value: '' }, t('modeler.choose')),
      forms.map((f) => h('option', { value: `${f.form_id}:${f.version}`, dataset: { json: JSON.stringify(f) } }, `${f.form_id} · v${f.version}`)));
  } catch (error) {
    clear(select, h('option', { value: '' }, t('modeler.forms_unavailable')));
    if (!(error instanceof ApiError && error.status === 404)) toast(error, 'error');
  }
}

function setupForms() {
  const editorLib = requireGlobal('FormEditor', $('form-editor'));
  formEditor = new editorLib.FormEditor({ container: $('form-editor') });
  window.qlyFormEditor = formEditor;
  openForm(BLANK_FORM(`Form_${Math.random().toString(36).slice(2, 9)}`), 'form.form');
  $('form-select').addEventListener('change', async (event) => {
    const option = event.target.selectedOptions[0];
    if (!option?.dataset.json) return;
    const form = JSON.parse(option.dataset.json);
    await openForm(form.schema, form.resource_name || `${form.form_id}.form`);
  });
  $('form-new').addEventListener('click', () => openForm(BLANK_FORM(`Form_${Math.random().toString(36).slice(2, 9)}`), 'form.form'));
  readFile($('form-file'), (text, name) => {
    try {
      openForm(JSON.parse(text), name);
    } catch (error) {
      showProblems($('form-problems'), [{ elementId: null, message: t('modeler.import_failed', { message: error.message }) }]);
    }
  });
  $('form-download').addEventListener('click', () => download(currentForm.name, JSON.stringify(formEditor.saveSchema(), null, 2), 'application/json'));
  $('form-deploy').addEventListener('click', async () => {
    const schema = formEditor.saveSchema();
    const name = currentForm.name.endsWith('.form') ? currentForm.name : `${schema.id}.form`;
    setStatus('form-status', t('modeler.deploying'));
    try {
      const result = await processesApi.deploy(name, JSON.stringify(schema, null, 2), 'application/json');
      const deployed = (result.forms || []).map((f) => `${f.form_id} v${f.version}`).join(', ') || name;
      setStatus('form-status', t('modeler.deployed_ok', { what: deployed }));
      clear($('form-problems'));
      toast(t('modeler.deployed_ok', { what: deployed }), 'success');
      await loadFormList();
    } catch (error) {
      setStatus('form-status', t('modeler.deploy_failed'));
      showProblems($('form-problems'), parseDeploymentErrors(error instanceof ApiError ? error.problem.detail || error.message : error.message));
    }
  });
  loadFormList();
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => {
      for (const other of tabs) {
        const selected = other === tab;
        other.setAttribute('aria-selected', String(selected));
        $(other.getAttribute('aria-controls')).hidden = !selected;
      }
    });
  }
}

async function main() {
  const user = await startPage({ active: '/modeler' });
  if (!hasRole(user, 'process_designer', 'admin')) {
    clear($('main'), h('div', { class: 'notice' }, t('modeler.designers_only')));
    return;
  }
  setupTabs();
  setupBpmn();
  setupForms();
}

main();

// Operations (admins): process instances with filters; an instance's diagram with active tokens and
// incidents drawn on it, its variables, the incident messages with a retry button; cancel; modify (move a
// token: terminate element instances, activate elements with variables); delete a definition version.

import { createViewer, markInstance, showXml } from './diagram.js';
import {
  api, clear, emptyState, errorBox, fmtDateTime, h, hasRole, loading, pager, pathId, startPage, subscribe, t, toast,
} from './qly.js';

const $ = (id) => document.getElementById(id);

const operateApi = {
  instances: (query) => api('/api/processes/instances', { query }),
  incidents: (query) => api('/api/processes/incidents', { query }),
  instance: (key) => api(`/api/processes/instances/${key}`),
  xml: (definitionKey) => api(`/api/processes/definitions/${definitionKey}/xml`, { headers: { Accept: 'application/xml' } }),
  processes: () => api('/api/processes/definitions', { query: { size: 200 } }),
  retry: (incidentKey, body) => api(`/api/processes/incidents/${incidentKey}/retry`, { method: 'POST', body }),
  cancel: (key) => api(`/api/processes/instances/${key}/cancel`, { method: 'POST' }),
  modify: (key, body) => api(`/api/processes/instances/${key}/modify`, { method: 'POST', body }),
  deleteDefinition: (key) => api(`/api/processes/definitions/${key}`, { method: 'DELETE' }),
};

// What a modification may activate (Zeebe refuses start events, boundary events and flows).
const ACTIVATABLE = /^bpmn:(\w*Task|CallActivity|SubProcess|Transaction|IntermediateCatchEvent|IntermediateThrowEvent|EndEvent|\w+Gateway)$/;

let query = { page: 1, size: 20 };
let viewer = null;
let selectedKey = pathId('/operate');

function stateBadge(instance) {
  const cls = instance.has_incident ? 'red' : instance.state === 'active' ? 'blue' : instance.state === 'completed' ? 'green' : '';
  return h('span', { class: `badge ${cls}` }, instance.has_incident ? t('operate.has_incident') : t(`instance_state.${instance.state}`));
}

function instanceItem(instance) {
  return h('li', {},
    h('a', {
      class: 'item', href: `/operate/${instance.key}`, 'aria-current': String(instance.key) === String(selectedKey) ? 'true' : null,
      onclick: (event) => {
        event.preventDefault();
        select(instance.key);
      },
    },
    h('div', { class: 'title' }, instance.bpmn_process_id, instance.version ? ` v${instance.version}` : ''),
    h('div', { class: 'meta' }, h('span', { class: 'mono' }, String(instance.key)), stateBadge(instance),
      h('span', {}, fmtDateTime(instance.start_date)))));
}

// With "incidents only" the list shows open incidents, each leading to its instance: the instance list
// of the API has no incident filter, and an incident is what an operator acts on anyway.
function incidentItem(incident) {
  const key = incident.process_instance_key;
  return h('li', {},
    h('a', {
      class: 'item', href: `/operate/${key}`, 'aria-current': String(key) === String(selectedKey) ? 'true' : null,
      onclick: (event) => {
        event.preventDefault();
        select(key);
      },
    },
    h('div', { class: 'title' }, incident.element_id || '—', ' ', h('span', { class: 'badge red' }, incident.error_type)),
    h('div', { class: 'meta' }, h('span', { class: 'mono' }, String(key)), h('span', {}, fmtDateTime(incident.created_at))),
    h('div', { class: 'meta incident-line' }, (incident.error_message || '').slice(0, 140))));
}

async function loadList() {
  const list = $('instance-list');
  clear(list, h('li', {}, loading()));
  try {
    const { incidentsOnly, ...filters } = query;
    const page = incidentsOnly
      ? await operateApi.incidents({ state: 'active', page: filters.page, size: filters.size })
      : await operateApi.instances(filters);
    if (!page.items.length) clear(list, h('li', {}, emptyState(t('common.none'))));
    else clear(list, page.items.map(incidentsOnly ? incidentItem : instanceItem));
    clear($('instance-pager'), pager(page, (step) => { query.page += step; loadList(); }));
  } catch (error) {
    clear(list, h('li', {}, errorBox(error)));
  }
}

function select(key) {
  selectedKey = String(key);
  history.replaceState(null, '', `/operate/${key}${location.search}`);
  for (const link of document.querySelectorAll('#instance-list a.item')) {
    link.setAttribute('aria-current', String(link.getAttribute('href') === `/operate/${key}`));
  }
  loadDetail(key);
}

function variablesTable(variables) {
  if (!variables.length) return emptyState(t('operate.no_variables'));
  return h('table', { class: 'responsive' },
    h('thead', {}, h('tr', {}, h('th', {}, t('operate.var_name')), h('th', {}, t('operate.var_value')), h('th', {}, t('operate.var_scope')))),
    h('tbody', {}, variables.map((v) => h('tr', {},
      h('td', { 'data-label': t('operate.var_name') }, h('code', {}, v.name)),
      h('td', { 'data-label': t('operate.var_value') }, h('code', { class: 'var-value' }, JSON.stringify(v.value))),
      h('td', { 'data-label': t('operate.var_scope'), class: 'mono' }, String(v.scope_key))))));
}

function incidentsBlock(detail) {
  const open = detail.incidents.filter((i) => i.state === 'active');
  if (!open.length) return h('p', { class: 'muted' }, t('operate.no_incidents'));
  return h('ul', { class: 'list incidents' }, open.map((incident) => {
    const retries = h('input', { type: 'number', min: 1, max: 100, value: 1, id: `retries-${incident.key}`, class: 'retries' });
    return h('li', { class: 'incident', dataset: { incidentKey: incident.key } },
      h('div', { class: 'row' },
        h('span', { class: 'badge red' }, incident.error_type),
        h('strong', {}, incident.element_id || ''),
        h('span', { class: 'muted' }, fmtDateTime(incident.created_at)),
        h('span', { class: 'spacer' }),
        h('label', { for: `retries-${incident.key}` }, t('operate.retries')), retries,
        h('button', {
          type: 'button', class: 'primary retry',
          onclick: async (event) => {
            event.target.disabled = true;
            try {
              await operateApi.retry(incident.key, { retries: Number(retries.value) || 1 });
              toast(t('operate.retried'), 'success');
              await loadDetail(selectedKey);
              loadList();
            } catch (error) {
              toast(error, 'error');
              event.target.disabled = false;
            }
          },
        }, t('operate.retry'))),
      h('pre', { class: 'incident-message' }, incident.error_message || '—'));
  }));
}

// Variables typed by an operator: a JSON object or nothing; anything else is named, not sent.
function parseVariables(text) {
  if (!text.trim()) return { value: null };
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: t('operate.modify_json_invalid', { message: error.message }) };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { error: t('operate.modify_json_object') };
  return { value };
}

function modifyPanel(detail) {
  const { instance } = detail;
  const live = detail.elements.filter((e) => e.element_type !== 'PROCESS' && !/(COMPLETED|TERMINATED)$/.test(e.state));
  const terminate = h('fieldset', { id: 'modify-terminate', class: 'checks' },
    h('legend', {}, t('operate.modify_terminate')),
    live.length ? live.map((e) => h('label', {},
      h('input', { type: 'checkbox', name: 'terminate', value: String(e.key) }),
      ` ${e.element_id} `, h('span', { class: 'mono muted' }, String(e.key)))) : h('p', { class: 'muted' }, t('common.none')));
  const activate = h('select', { id: 'modify-activate', name: 'activate' }, h('option', { value: '' }, t('operate.modify_none')));
  const variables = h('textarea', { id: 'modify-variables', rows: 3, placeholder: '{"key": "value"}', class: 'mono' });
  const variablesError = h('p', { id: 'modify-variables-error', class: 'field-error', role: 'alert' });
  const result = h('div', { id: 'modify-result' });
  const form = h('form', {
    id: 'modify-form',
    onsubmit: async (event) => {
      event.preventDefault();
      clear(result);
      variablesError.textContent = '';
      const terminateKeys = [...terminate.querySelectorAll('input:checked')].map((input) => Number(input.value));
      const parsed = parseVariables(variables.value);
      if (parsed.error) {
        variablesError.textContent = parsed.error;
        variables.setAttribute('aria-invalid', 'true');
        return;
      }
      variables.removeAttribute('aria-invalid');
      if (parsed.value && !activate.value) {
        variablesError.textContent = t('operate.modify_variables_need_element');
        return;
      }
      const body = { terminate: terminateKeys, activate: activate.value ? [{ element_id: activate.value, ...(parsed.value ? { variables: parsed.value } : {}) }] : [] };
      if (!body.terminate.length && !body.activate.length) {
        clear(result, errorBox(new Error(t('operate.modify_nothing'))));
        return;
      }
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        await operateApi.modify(instance.key, body);
        toast(t('operate.modified'), 'success');
        await reloadUntilChanged(instance.key, detail.marks);
      } catch (error) {
        clear(result, errorBox(error));
        button.disabled = false;
      }
    },
  },
  terminate,
  h('div', { class: 'field' }, h('label', { for: 'modify-activate' }, t('operate.modify_activate')), activate),
  h('div', { class: 'field' }, h('label', { for: 'modify-variables' }, t('operate.modify_variables')), variables, variablesError),
  h('button', { type: 'submit', class: 'primary' }, t('operate.modify_submit')),
  result);
  return { element: h('details', { class: 'modify', id: 'modify-panel' }, h('summary', {}, t('operate.modify')), form), activate };
}

function fillActivatable(select, registry) {
  const elements = registry.getAll().filter((e) => ACTIVATABLE.test(e.type) && !e.labelTarget);
  select.append(...elements.map((e) => h('option', { value: e.id }, e.businessObject?.name ? `${e.businessObject.name} (${e.id})` : e.id)));
}

// The exporter writes the views a moment after the engine commits: wait a little for the marks to move.
async function reloadUntilChanged(key, marks) {
  const before = JSON.stringify(marks);
  for (let i = 0; i < 20; i += 1) {
    try {
      const detail = await operateApi.instance(key);
      if (JSON.stringify(detail.marks) !== before) break;
    } catch {
      break;
    }
    await new Promise((resolve) => { setTimeout(resolve, 250); });
  }
  await loadDetail(key);
  loadList();
}

async function loadDetail(key) {
  const panel = $('instance-detail');
  clear(panel, loading());
  let detail;
  try {
    detail = await operateApi.instance(key);
  } catch (error) {
    clear(panel, errorBox(error));
    return;
  }
  const { instance } = detail;
  const diagram = h('div', { class: 'diagram', id: 'instance-diagram', 'aria-label': t('operate.diagram') });
  const cancel = instance.state === 'active'
    ? h('button', {
      type: 'button', class: 'danger', id: 'cancel-instance',
      onclick: async () => {
        if (!confirm(t('operate.cancel_confirm', { key: instance.key }))) return;
        try {
          await operateApi.cancel(instance.key);
          toast(t('operate.cancelled'), 'success');
          await loadDetail(instance.key);
          loadList();
        } catch (error) {
          toast(error, 'error');
        }
      },
    }, t('operate.cancel'))
    : null;
  const modify = instance.state === 'active' ? modifyPanel(detail) : null;
  clear(panel,
    h('div', { class: 'page-title' }, h('h2', {}, `${instance.bpmn_process_id} v${instance.version ?? '?'}`), stateBadge(instance),
      h('span', { class: 'spacer' }), cancel),
    h('dl', { class: 'facts' },
      h('dt', {}, t('operate.key')), h('dd', { class: 'mono' }, String(instance.key)),
      h('dt', {}, t('operate.started')), h('dd', {}, fmtDateTime(instance.start_date)),
      h('dt', {}, t('operate.ended')), h('dd', {}, fmtDateTime(instance.end_date)),
      instance.parent_process_instance_key ? [h('dt', {}, t('operate.parent')),
        h('dd', {}, h('a', { href: `/operate/${instance.parent_process_instance_key}` }, String(instance.parent_process_instance_key)))] : null),
    diagram,
    modify?.element,
    h('h3', {}, t('operate.incidents')), incidentsBlock(detail),
    h('h3', {}, t('operate.variables')), variablesTable(detail.variables));

  if (!instance.process_definition_key) {
    clear(diagram, emptyState(t('operate.no_diagram')));
    return;
  }
  try {
    viewer?.destroy();
    viewer = createViewer(diagram);
    const xml = await operateApi.xml(instance.process_definition_key);
    await showXml(viewer, xml);
    markInstance(viewer, detail.marks);
    if (modify) {
      fillActivatable(modify.activate, viewer.get('elementRegistry'));
      // a click on an element of the diagram picks it as the one to activate
      viewer.get('eventBus').on('element.click', ({ element }) => {
        if (![...modify.activate.options].some((o) => o.value === element.id)) return;
        modify.activate.value = element.id;
        modify.element.open = true;
      });
    }
  } catch (error) {
    clear(diagram, errorBox(error));
  }
}

// Versions of the deployed processes; one without running instances can be deleted (the engine decides).
async function loadDefinitions() {
  const list = $('definition-list');
  try {
    const page = await operateApi.processes();
    const items = page.items || page;
    clear($('process-ids'), [...new Set(items.map((d) => d.bpmn_process_id))].sort().map((id) => h('option', { value: id })));
    if (!items.length) {
      clear(list, h('li', {}, emptyState(t('common.none'))));
      return;
    }
    clear(list, items.map((d) => {
      const message = h('div', { class: 'definition-error' });
      return h('li', { class: 'definition', dataset: { definitionKey: d.key } },
        h('div', { class: 'row' },
          h('strong', {}, d.bpmn_process_id), h('span', { class: 'badge' }, `v${d.version}`),
          h('span', { class: 'mono muted' }, String(d.key)), h('span', { class: 'spacer' }),
          h('button', {
            type: 'button', class: 'danger delete-definition',
            onclick: async (event) => {
              if (!confirm(t('operate.definition_delete_confirm', { id: d.bpmn_process_id, version: d.version }))) return;
              clear(message);
              event.target.disabled = true;
              try {
                await operateApi.deleteDefinition(d.key);
                toast(t('operate.definition_deleted'), 'success');
                event.target.closest('li').remove();
              } catch (error) {
                clear(message, errorBox(error));
                event.target.disabled = false;
              }
            },
          }, t('operate.definition_delete'))),
        message);
    }));
  } catch (error) {
    clear(list, h('li', {}, errorBox(error)));
  }
}

async function main() {
  const user = await startPage({ active: '/operate' });
  if (!hasRole(user, 'admin')) {
    clear($('main'), h('div', { class: 'notice' }, t('operate.admins_only')));
    return;
  }
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    query = { page: 1, size: 20, bpmn_process_id: form.get('bpmn_process_id') || null, state: form.get('state') || null,
      incidentsOnly: !!form.get('has_incident') };
    loadList();
  });
  loadDefinitions();
  await loadList();
  if (selectedKey) loadDetail(selectedKey);
  live();
}

// Incidents and the end of instances arrive as engine events: the list and the open instance follow them.
function live() {
  let timer = null;
  subscribe('/api/events', {
    onEvent: ({ type, data }) => {
      const kind = data?.type || type;
      if (!/^engine\.(incident|process_instance)\./.test(kind)) return;
      const key = data?.payload?.process_instance_key;
      clearTimeout(timer);
      timer = setTimeout(() => {
        loadList();
        // An operator half-way through a modification keeps what they typed: the detail reloads after they submit.
        if (selectedKey && String(key) === String(selectedKey) && !$('modify-panel')?.open) loadDetail(selectedKey);
      }, 800);
    },
  });
}

main();

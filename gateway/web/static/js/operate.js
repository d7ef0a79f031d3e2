// Operations (admins): process instances with filters; an instance's diagram with active tokens and
// incidents drawn on it, its variables, the incident messages with a retry button; cancel.

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
};

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
  } catch (error) {
    clear(diagram, errorBox(error));
  }
}

async function fillProcessIds() {
  try {
    const page = await operateApi.processes();
    const ids = [...new Set((page.items || page).map((d) => d.bpmn_process_id))].sort();
    clear($('process-ids'), ids.map((id) => h('option', { value: id })));
  } catch {
    // the filter still takes typed ids
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
  fillProcessIds();
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
        if (selectedKey && String(key) === String(selectedKey)) loadDetail(selectedKey);
      }, 800);
    },
  });
}

main();

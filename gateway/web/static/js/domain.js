// Pieces of the domain that several work pages show the same way: the stage timeline of a project,
// a problem's history and units, lights and statuses as badges.

import { api, fmtDate, fmtDateTime, h, statusName, t } from './qly.js';

export const STAGES = ['signed', 'filing', 'land', 'planning', 'construction_permit', 'started', 'completed', 'in_production'];

export function lightBadge(light) {
  return h('span', { class: `badge ${light === 'red' ? 'red' : 'green'}` },
    h('span', { class: `light ${light === 'red' ? 'red' : 'green'}`, 'aria-hidden': 'true' }), t(`light.${light || 'green'}`));
}

export function problemStatusBadge(status) {
  const cls = { open: 'amber', assigned: 'blue', reported: 'blue', sent_back: 'red', closed: 'green' }[status] || '';
  return h('span', { class: `badge ${cls}` }, statusName('problem_status', status));
}

// The life cycle as a row of steps: done ones with their date, the current one highlighted.
export function stageTimeline(project) {
  const reached = new Map();
  for (const entry of project.stage_history || []) {
    if (!reached.has(entry.stage)) reached.set(entry.stage, entry.at);
  }
  if (!reached.has('signed') && project.signed_at) reached.set('signed', project.signed_at);
  const current = STAGES.indexOf(project.stage);
  return h('ol', { class: 'stages', 'aria-label': t('project.timeline') },
    STAGES.map((stage, index) => {
      const state = index < current ? 'done' : index === current ? 'current done' : '';
      return h('li', { class: state, 'aria-current': index === current ? 'step' : null },
        t(`stage.${stage}`), h('span', { class: 'when' }, reached.has(stage) ? fmtDate(reached.get(stage)) : ''));
    }));
}

// "system:workers.escalation" → 系统（预警）: services act under a system actor named after their family.
export function actorName(actor) {
  if (!actor || !actor.startsWith('system:')) return actor || '';
  const family = actor.split(/[:.]/).pop();
  const label = t(`actor.${family}`);
  return `${t('actor.system')}（${label === `actor.${family}` ? family : label}）`;
}

export function problemHistory(problem) {
  const entries = [...(problem.history || [])].sort((a, b) => String(a.at).localeCompare(String(b.at)));
  if (!entries.length) return h('p', { class: 'muted' }, t('common.none'));
  return h('ol', { class: 'history' }, entries.map((entry) => h('li', {},
    h('div', { class: 'when' }, fmtDateTime(entry.at), ' · ', entry.actor_name || actorName(entry.actor)),
    h('div', {}, h('strong', {}, t(`action.${entry.action}`) === `action.${entry.action}` ? entry.action : t(`action.${entry.action}`)),
      ' ', problemStatusBadge(entry.status)),
    entry.note ? h('div', { class: 'note' }, entry.note) : null)));
}

export function unitsTable(problem, unitNames = {}) {
  if (!(problem.units || []).length) return h('p', { class: 'muted' }, t('problem.no_units'));
  return h('table', { class: 'responsive' },
    h('thead', {}, h('tr', {}, ['problem.unit', 'problem.unit_role', 'problem.unit_status', 'problem.reported_at', 'problem.resolution']
      .map((key) => h('th', {}, t(key))))),
    h('tbody', {}, problem.units.map((unit) => h('tr', {},
      h('td', { 'data-label': t('problem.unit') }, unitNames[unit.unit_id] || unit.unit_name || unit.unit_id),
      h('td', { 'data-label': t('problem.unit_role') }, statusName('unit_role', unit.role)),
      h('td', { 'data-label': t('problem.unit_status') }, statusName('unit_status', unit.status)),
      h('td', { 'data-label': t('problem.reported_at') }, fmtDateTime(unit.reported_at)),
      h('td', { 'data-label': t('problem.resolution') }, unit.resolution || '—')))));
}

// County options for a filter, from the units the gateway knows (kind=county).
export async function fillCounties(select) {
  try {
    const units = await api('/api/units', { query: { kind: 'county' } });
    const seen = new Set();
    for (const unit of units) {
      const code = unit.county_code || unit.id;
      if (!code || seen.has(code)) continue;
      seen.add(code);
      select.append(h('option', { value: code }, unit.name));
    }
  } catch {
    // the filter stays at "all"
  }
}

// A problem: what, where, who must act (units and their reports), its history and yellow flags.

import { actorName, problemHistory, problemStatusBadge, unitsTable } from './domain.js';
import { api, clear, dueBadge, emptyState, errorBox, fmtDate, fmtDateTime, h, pathId, startPage, statusName, t } from './qly.js';

const $ = (id) => document.getElementById(id);
const id = pathId('/problem');

async function unitNames() {
  try {
    const units = await api('/api/units');
    return Object.fromEntries(units.map((u) => [u.id, u.name]));
  } catch {
    return {};
  }
}

async function main() {
  await startPage({ active: '/problems' });
  const container = $('problem');
  let problem;
  try {
    problem = await api(`/api/problems/${encodeURIComponent(id)}`);
  } catch (error) {
    clear(container, errorBox(error));
    return;
  }
  const names = await unitNames();
  for (const unit of problem.units || []) if (unit.unit_name) names[unit.unit_id] = unit.unit_name;
  const problemFlags = problem.flags || [];
  document.title = `${problem.title} · ${t('app.name')}`;
  const category = t(`category.${problem.category}`) === `category.${problem.category}` ? problem.category : t(`category.${problem.category}`);
  clear(container,
    h('div', { class: 'page-title' }, h('h1', {}, problem.title), problemStatusBadge(problem.status),
      problem.status !== 'closed' ? dueBadge(problem.due_at) : null),
    h('section', { class: 'panel', 'aria-labelledby': 'facts-heading' },
      h('h2', { id: 'facts-heading' }, t('problem.facts')),
      h('dl', { class: 'facts' },
        h('dt', {}, t('tasks.project')), h('dd', {}, h('a', { href: `/projects/${encodeURIComponent(problem.project_code)}` }, problem.project_name || problem.project_code)),
        h('dt', {}, t('problems.origin')), h('dd', {}, statusName('origin', problem.origin)),
        h('dt', {}, t('problem.category')), h('dd', {}, category),
        h('dt', {}, t('problems.raised_at')), h('dd', {}, fmtDateTime(problem.raised_at), ' · ', actorName(problem.raised_by)),
        h('dt', {}, t('problems.due_at')), h('dd', {}, fmtDateTime(problem.due_at)),
        problem.closed_at ? [h('dt', {}, t('problem.closed_at')), h('dd', {}, fmtDateTime(problem.closed_at))] : null),
      problem.description ? h('p', { class: 'description' }, problem.description) : null),
    h('section', { class: 'panel', 'aria-labelledby': 'units-heading' },
      h('h2', { id: 'units-heading' }, t('problems.units')), unitsTable(problem, names)),
    h('section', { class: 'panel', 'aria-labelledby': 'flags-heading' },
      h('h2', { id: 'flags-heading' }, t('problem.flags')),
      problemFlags.length ? h('ul', { class: 'list flags' }, problemFlags.map((f) => h('li', { class: 'item' },
        h('span', { class: `badge ${f.lifted_at ? '' : 'amber'}` }, f.lifted_at ? t('problem.flag_lifted') : t('problem.flag_open')), ' ',
        names[f.unit_id] || f.unit_id, ' · ', f.reason, ' · ', fmtDate(f.raised_at))))
        : emptyState(t('problem.no_flags'))),
    h('section', { class: 'panel', 'aria-labelledby': 'history-heading' },
      h('h2', { id: 'history-heading' }, t('problem.history')), problemHistory(problem)));
}

main();

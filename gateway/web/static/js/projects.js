// Project list: search by name, code or investor; filter by county, stage and light; paginated.

import { fillCounties, lightBadge, STAGES } from './domain.js';
import {
  api, clear, errorBox, fmtAmount, fmtDate, h, pager, params, startPage, t,
} from './qly.js';

const $ = (id) => document.getElementById(id);
const state = { page: 1, size: 30, filters: {} };

async function load() {
  const rows = $('project-rows');
  clear(rows, h('tr', {}, h('td', { colspan: 7, class: 'loading' }, t('common.loading'))));
  try {
    const page = await api('/api/projects', { query: { ...state.filters, page: state.page, size: state.size } });
    $('project-total').textContent = t('projects.total', { total: page.total });
    if (!page.items.length) {
      clear(rows, h('tr', {}, h('td', { colspan: 7, class: 'empty' }, t('projects.none'))));
    } else {
      clear(rows, page.items.map((p) => h('tr', { dataset: { projectCode: p.project_code } },
        h('td', { 'data-label': t('projects.name') },
          h('a', { href: `/projects/${encodeURIComponent(p.project_code)}` }, p.name),
          h('div', { class: 'muted mono' }, p.project_code), h('div', { class: 'muted' }, p.investor?.company || '')),
        h('td', { 'data-label': t('projects.county') }, p.county?.name || ''),
        h('td', { 'data-label': t('projects.stage') }, t(`stage.${p.stage}`)),
        h('td', { 'data-label': t('projects.light') }, lightBadge(p.light)),
        h('td', { 'data-label': t('projects.amount') }, fmtAmount(p.amount_cny)),
        h('td', { 'data-label': t('projects.signed_at') }, fmtDate(p.signed_at)),
        h('td', { 'data-label': t('projects.last_progress') }, fmtDate(p.last_progress_at)))));
    }
    clear($('project-pager'), pager(page, (step) => { state.page += step; load(); }));
  } catch (error) {
    clear(rows, h('tr', {}, h('td', { colspan: 7 }, errorBox(error))));
  }
}

async function main() {
  await startPage({ active: '/projects' });
  for (const stage of STAGES) $('p-stage').append(h('option', { value: stage }, t(`stage.${stage}`)));
  await fillCounties($('p-county'));
  const initial = params();
  for (const name of ['text', 'county_code', 'stage', 'light']) {
    if (initial.get(name)) {
      $('project-filters').elements[name].value = initial.get(name);
      state.filters[name] = initial.get(name);
    }
  }
  $('project-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    state.filters = Object.fromEntries([...data.entries()].filter(([, v]) => v !== ''));
    state.page = 1;
    history.replaceState(null, '', `/projects?${new URLSearchParams(state.filters)}`);
    load();
  });
  load();
}

main();

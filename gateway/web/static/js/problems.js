// Problem list: filter by project, status, origin, county and overdue; paginated.

import { fillCounties, problemStatusBadge } from './domain.js';
import { api, clear, dueBadge, errorBox, fmtDate, h, pager, params, startPage, statusName, t } from './qly.js';

const $ = (id) => document.getElementById(id);
const state = { page: 1, size: 30, filters: {} };
const STATUSES = ['open', 'assigned', 'reported', 'sent_back', 'closed'];
const ORIGINS = ['warning', 'investor', 'unit'];

async function load() {
  const rows = $('problem-rows');
  clear(rows, h('tr', {}, h('td', { colspan: 7, class: 'loading' }, t('common.loading'))));
  try {
    const page = await api('/api/problems', { query: { ...state.filters, page: state.page, size: state.size } });
    $('problem-total').textContent = t('problems.total', { total: page.total });
    if (!page.items.length) {
      clear(rows, h('tr', {}, h('td', { colspan: 7, class: 'empty' }, t('problems.none'))));
    } else {
      clear(rows, page.items.map((p) => h('tr', { dataset: { problemId: p.id } },
        h('td', { 'data-label': t('problems.problem') }, h('a', { href: `/problem/${encodeURIComponent(p.id)}` }, p.title),
          h('div', { class: 'muted' }, t(`category.${p.category}`) === `category.${p.category}` ? p.category : t(`category.${p.category}`))),
        h('td', { 'data-label': t('problems.project') }, h('a', { href: `/projects/${encodeURIComponent(p.project_code)}`, class: 'mono' }, p.project_code)),
        h('td', { 'data-label': t('problems.origin') }, statusName('origin', p.origin)),
        h('td', { 'data-label': t('problems.status') }, problemStatusBadge(p.status)),
        h('td', { 'data-label': t('problems.units') }, (p.unit_names || p.unit_ids || []).join('、') || '—'),
        h('td', { 'data-label': t('problems.raised_at') }, fmtDate(p.raised_at)),
        h('td', { 'data-label': t('problems.due_at') }, p.status === 'closed' ? fmtDate(p.closed_at) : dueBadge(p.due_at) || '—'))));
    }
    clear($('problem-pager'), pager(page, (step) => { state.page += step; load(); }));
  } catch (error) {
    clear(rows, h('tr', {}, h('td', { colspan: 7 }, errorBox(error))));
  }
}

async function main() {
  await startPage({ active: '/problems' });
  for (const s of STATUSES) $('q-status').append(h('option', { value: s }, statusName('problem_status', s)));
  for (const o of ORIGINS) $('q-origin').append(h('option', { value: o }, statusName('origin', o)));
  await fillCounties($('q-county'));
  const form = $('problem-filters');
  for (const [name, value] of params()) {
    if (!form.elements[name]) continue;
    form.elements[name].value = value;
    state.filters[name] = value;
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    state.filters = Object.fromEntries([...new FormData(form).entries()].filter(([, v]) => v !== ''));
    state.page = 1;
    history.replaceState(null, '', `/problems?${new URLSearchParams(state.filters)}`);
    load();
  });
  load();
}

main();

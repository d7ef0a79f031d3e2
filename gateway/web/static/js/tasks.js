// The inbox: my tasks, my groups' unclaimed tasks, completed ones; claim / unclaim; the task's form
// (form-js, from the deployed form) validated and submitted; the project's and problem's context.
// Live: the list reloads when a task event arrives.

import { lightBadge, problemHistory, problemStatusBadge, stageTimeline } from './domain.js';
import {
  api, ApiError, clear, dueBadge, dueState, emptyState, errorBox, fmtDateTime, h, hasRole, loading, pager, pathId,
  requireGlobal, startPage, subscribe, t, toast,
} from './qly.js';

const $ = (id) => document.getElementById(id);

const tasksApi = {
  list: (query) => api('/api/tasks', { query }),
  history: (query) => api('/api/tasks/history', { query }),
  get: (key) => api(`/api/tasks/${key}`),
  claim: (key) => api(`/api/tasks/${key}/claim`, { method: 'POST' }),
  unclaim: (key) => api(`/api/tasks/${key}/unclaim`, { method: 'POST' }),
  complete: (key, variables) => api(`/api/tasks/${key}/complete`, { method: 'POST', body: { variables } }),
  project: (code) => api(`/api/projects/${encodeURIComponent(code)}`),
  problem: (id) => api(`/api/problems/${encodeURIComponent(id)}`),
  // Engine time (the clock may be moved in demos and tests); only operators may read it, others use their own.
  clock: () => api('/api/processes/clock'),
};

const state = { view: 'mine', page: 1, size: 30, text: '', due: '', sort: 'due', selected: pathId('/tasks'), user: null, now: null };
let form = null;

// Engine time when the clock is controlled (demos, tests): "overdue" must agree with the engine.
function now() {
  return state.now === null ? Date.now() : state.now + (Date.now() - state.nowFetchedAt);
}

async function refreshClock() {
  if (!hasRole(state.user, 'admin', 'process_designer')) return;
  try {
    const clock = await tasksApi.clock();
    state.now = clock.epoch_milli;
    state.nowFetchedAt = Date.now();
  } catch {
    state.now = null;
  }
}

// The API lists open tasks earliest due first; "mine" and "to claim" are its filters, "completed" its
// history. Overdue is asked of the API (due before now); text, "due soon" and other orders are applied
// to the page here.
function fetchPage(view = state.view, { page = state.page, size = state.size } = {}) {
  if (view === 'completed') return tasksApi.history({ page, size });
  const query = { page, size, mine: view === 'mine' ? 'true' : null, unassigned: view === 'group' ? 'true' : null };
  if (state.due === 'overdue') query.due_before = new Date(now()).toISOString();
  return tasksApi.list(query);
}

function projectLabel(task) {
  return task.variables?.projectName || task.project_code || '';
}

function matches(task) {
  if (state.due && dueState(task.due_at, now()) !== state.due) return false;
  if (!state.text) return true;
  const text = state.text.toLowerCase();
  return [task.name, task.project_code, task.variables?.projectName, task.variables?.problemTitle]
    .some((value) => value && String(value).toLowerCase().includes(text));
}

// Tasks without a due date go last in either direction.
function byDue(direction) {
  return (a, b) => {
    if (!a.due_at || !b.due_at) return (a.due_at ? -1 : 0) + (b.due_at ? 1 : 0);
    return direction * (new Date(a.due_at) - new Date(b.due_at));
  };
}

function ordered(items) {
  const sorted = items.slice();
  if (state.sort === '-due') sorted.sort(byDue(-1));
  else if (state.sort === '-created') sorted.sort((a, b) => new Date(b.created_at) - new Date(a.created_at));
  else if (state.view !== 'completed') sorted.sort(byDue(1));
  return sorted;
}

function taskItem(task) {
  const due = task.status === 'open' ? dueState(task.due_at, now()) : null;
  return h('li', { class: due ? `due-${due}` : null },
    h('a', {
      class: 'item', href: `/tasks/${task.job_key}`, 'aria-current': String(task.job_key) === String(state.selected) ? 'true' : null,
      dataset: { jobKey: task.job_key },
      onclick: (event) => {
        event.preventDefault();
        select(task.job_key);
      },
    },
    h('div', { class: 'title' }, task.name),
    h('div', { class: 'meta' },
      projectLabel(task) ? h('span', {}, projectLabel(task)) : null,
      task.status === 'open' ? dueBadge(task.due_at, now()) : h('span', {}, t('tasks.completed_at', { at: fmtDateTime(task.completed_at) })),
      task.assignee && state.view !== 'mine' ? h('span', { class: 'badge blue' }, task.assignee) : null)));
}

async function loadCounts() {
  const counts = {};
  for (const view of ['mine', 'group']) {
    try {
      counts[view] = (await fetchPage(view, { page: 1, size: 1 })).total;
      $(`count-${view}`).textContent = String(counts[view]);
    } catch {
      $(`count-${view}`).textContent = '';
    }
  }
  return counts;
}

function showView(view) {
  state.view = view;
  state.page = 1;
  for (const tab of document.querySelectorAll('[role="tab"][data-view]')) tab.setAttribute('aria-selected', String(tab.dataset.view === view));
  clear($('task-list'));
  return loadList();
}

async function loadList() {
  const list = $('task-list');
  if (!list.children.length) clear(list, h('li', {}, loading()));
  try {
    const page = await fetchPage();
    const items = ordered(page.items.filter(matches));
    if (!items.length) clear(list, h('li', {}, emptyState(t(`tasks.empty_${state.view}`))));
    else clear(list, items.map(taskItem));
    clear($('task-pager'), pager(page, (step) => { state.page += step; loadList(); }, { hideSingle: true }));
  } catch (error) {
    clear(list, h('li', {}, errorBox(error)));
  }
}

function select(key) {
  state.selected = String(key);
  history.replaceState(null, '', `/tasks/${key}`);
  for (const link of document.querySelectorAll('#task-list a.item')) {
    link.setAttribute('aria-current', String(link.dataset.jobKey === state.selected));
  }
  document.body.classList.add('showing-detail');
  loadDetail(key);
}

function back() {
  document.body.classList.remove('showing-detail');
  history.replaceState(null, '', '/tasks');
  state.selected = null;
}

function isMine(task) {
  return !!task.assignee && task.assignee === state.user?.username;
}

async function act(button, action, success) {
  button.disabled = true;
  try {
    await action();
    if (success) toast(success, 'success');
    await Promise.all([loadList(), loadCounts()]);
    return true;
  } catch (error) {
    toast(error, 'error');
    button.disabled = false;
    return false;
  }
}

async function renderForm(detail, container) {
  const { task } = detail;
  form?.destroy?.();
  form = null;
  const schema = detail.form?.schema;
  const editable = detail.can_complete;
  if (!schema || !schema.components) {
    // A task without a form still needs a way to finish it: a comment is all the process gets.
    const comment = h('textarea', { id: 'task-comment', name: 'comment', required: true, disabled: !editable });
    clear(container, h('div', { class: 'field' }, h('label', { for: 'task-comment' }, t('tasks.comment')), comment));
    return {
      async submit() {
        if (!comment.value.trim()) {
          comment.setAttribute('aria-invalid', 'true');
          comment.focus();
          return { errors: { comment: [t('tasks.required')] } };
        }
        return { data: { comment: comment.value.trim() }, errors: {} };
      },
    };
  }
  const Viewer = requireGlobal('FormViewer', container);
  clear(container);
  form = new Viewer.Form({ container });
  await form.importSchema(schema, task.variables || {});
  if (!editable) form.setProperty('readOnly', true);
  return { submit: () => form.submit() };
}

// The project's stages and the problem's history beside the form. Someone may hold a task on a project
// they cannot open (the gateway scopes projects by unit and role): then the task's own words stand in.
function hidden(error) {
  return error instanceof ApiError && (error.status === 403 || error.status === 404);
}

async function contextBlock(task) {
  const parts = [];
  const vars = task.variables || {};
  if (task.project_code) {
    try {
      const detail = await tasksApi.project(task.project_code);
      const project = detail.project || detail;
      parts.push(h('section', { class: 'context', 'aria-labelledby': 'ctx-project' },
        h('h3', { id: 'ctx-project' }, t('tasks.project'), ' ',
          h('a', { href: `/projects/${encodeURIComponent(project.project_code)}` }, project.name), ' ', lightBadge(project.light)),
        h('p', { class: 'muted' }, project.project_code, ' · ', project.investor?.company || '', ' · ', project.county?.name || ''),
        stageTimeline({ ...project, stage_history: detail.timeline || project.stage_history })));
    } catch (error) {
      parts.push(hidden(error)
        ? h('section', { class: 'context' }, h('h3', {}, t('tasks.project'), ' ', vars.projectName || task.project_code),
          h('p', { class: 'muted' }, t('tasks.context_hidden')))
        : errorBox(error));
    }
  }
  if (task.problem_id) {
    try {
      const problem = await tasksApi.problem(task.problem_id);
      parts.push(h('section', { class: 'context', 'aria-labelledby': 'ctx-problem' },
        h('h3', { id: 'ctx-problem' }, t('tasks.problem'), ' ',
          h('a', { href: `/problem/${encodeURIComponent(problem.id)}` }, problem.title), ' ', problemStatusBadge(problem.status)),
        problem.description ? h('p', {}, problem.description) : null,
        problemHistory(problem)));
    } catch (error) {
      parts.push(hidden(error)
        ? h('section', { class: 'context' }, h('h3', {}, t('tasks.problem'), ' ', vars.problemTitle || task.problem_id),
          h('p', { class: 'muted' }, t('tasks.context_hidden')))
        : errorBox(error));
    }
  }
  return parts;
}

async function loadDetail(key) {
  const panel = $('task-detail');
  clear(panel, loading());
  let detail;
  try {
    detail = await tasksApi.get(key);
  } catch (error) {
    clear(panel, h('button', { type: 'button', class: 'back link-button', onclick: back }, `← ${t('tasks.back')}`), errorBox(error));
    return;
  }
  const { task } = detail;
  const open = task.status === 'open';
  const formBox = h('div', { id: 'task-form', class: 'task-form' });
  const errors = h('div', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'button', class: 'primary', id: 'task-complete' }, t('tasks.complete'));
  const actions = h('div', { class: 'row actions' });
  if (open && detail.can_claim && !task.assignee) {
    actions.append(h('button', {
      type: 'button', class: 'primary', id: 'task-claim',
      onclick: (event) => act(event.target, () => tasksApi.claim(task.job_key), t('tasks.claimed')).then((ok) => ok && loadDetail(key)),
    }, t('tasks.claim')));
  }
  if (open && isMine(task)) {
    actions.append(h('button', {
      type: 'button', id: 'task-unclaim',
      onclick: (event) => act(event.target, () => tasksApi.unclaim(task.job_key), t('tasks.unclaimed')).then((ok) => ok && loadDetail(key)),
    }, t('tasks.unclaim')));
  }
  const overdue = open && dueState(task.due_at, now()) === 'overdue';
  clear(panel,
    h('button', { type: 'button', class: 'back link-button', onclick: back }, `← ${t('tasks.back')}`),
    h('div', { class: 'page-title' }, h('h2', {}, task.name), open ? dueBadge(task.due_at, now()) : h('span', { class: 'badge green' }, t('tasks.done'))),
    overdue ? h('p', { class: 'notice' }, t('tasks.overdue_notice')) : null,
    h('dl', { class: 'facts' },
      projectLabel(task) ? [h('dt', {}, t('tasks.project')), h('dd', {}, projectLabel(task))] : null,
      h('dt', {}, t('tasks.assignee')), h('dd', { id: 'task-assignee' }, task.assignee || t('tasks.unassigned')),
      h('dt', {}, t('tasks.groups')), h('dd', {}, (task.candidate_groups || []).join('、') || '—'),
      h('dt', {}, t('tasks.created')), h('dd', {}, fmtDateTime(task.created_at)),
      h('dt', {}, t('tasks.due')), h('dd', {}, fmtDateTime(task.due_at)),
      task.completed_at ? [h('dt', {}, t('tasks.completed_at_label')), h('dd', {}, fmtDateTime(task.completed_at), ' · ', task.completed_by || '')] : null),
    actions,
    h('section', { 'aria-labelledby': 'form-title' }, h('h3', { id: 'form-title' }, t('tasks.form')), formBox, errors,
      detail.can_complete ? h('div', { class: 'row' }, submit) : null,
      open && !detail.can_complete ? h('p', { class: 'muted' }, task.assignee && !isMine(task) ? t('tasks.claimed_by_other', { user: task.assignee }) : t('tasks.claim_first')) : null),
    h('div', { id: 'task-context' }, loading()));

  const handle = await renderForm(detail, formBox);
  submit.addEventListener('click', async () => {
    errors.textContent = '';
    const result = await handle.submit();
    const problems = Object.entries(result.errors || {}).filter(([, list]) => list && list.length);
    if (problems.length) {
      errors.textContent = t('tasks.fix_errors', { count: problems.length });
      return;
    }
    const done = await act(submit, () => tasksApi.complete(task.job_key, result.data), t('tasks.completed_ok'));
    if (done) {
      clear(panel, h('p', { class: 'empty', id: 'task-done' }, t('tasks.completed_ok')));
      state.selected = null;
      history.replaceState(null, '', '/tasks');
      document.body.classList.remove('showing-detail');
    }
  });
  clear($('task-context'), await contextBlock(task));
}

function setupFilters() {
  for (const tab of document.querySelectorAll('[role="tab"][data-view]')) {
    tab.addEventListener('click', () => showView(tab.dataset.view));
  }
  let timer;
  $('task-filters').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const data = new FormData($('task-filters'));
      state.text = data.get('text').trim();
      state.due = data.get('due');
      state.sort = data.get('sort');
      state.page = 1;
      loadList();
    }, 250);
  });
  $('task-filters').addEventListener('submit', (event) => event.preventDefault());
}

function live() {
  let pending = null;
  subscribe('/api/events', {
    onEvent: (event) => {
      if (!/task/.test(event.type)) return;
      clearTimeout(pending);
      pending = setTimeout(() => {
        loadList();
        loadCounts();
      }, 300);
    },
  });
}

async function main() {
  state.user = await startPage({ active: '/tasks' });
  setupFilters();
  await refreshClock();
  const counts = await loadCounts();
  // Nothing claimed yet but work waiting for the group: start where the work is.
  await showView(counts.mine === 0 && counts.group > 0 && !state.selected ? 'group' : 'mine');
  if (state.selected) select(state.selected);
  live();
  setInterval(refreshClock, 60000);
}

main();

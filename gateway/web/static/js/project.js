// A project: facts, the stage timeline, approvals, problems and flags, and the diagram of its process
// instance with the active elements marked. Its investor reports a problem and scores the service here.

import { createViewer, markInstance, showXml } from './diagram.js';
import { lightBadge, problemStatusBadge, stageTimeline } from './domain.js';
import {
  api, ApiError, clear, dueBadge, emptyState, errorBox, fmtAmount, fmtDate, fmtDateTime, h, hasRole, pathId,
  startPage, statusName, t, toast,
} from './qly.js';

const $ = (id) => document.getElementById(id);
const code = pathId('/projects');
let user = null;

function approvalsTable(approvals) {
  if (!approvals.length) return emptyState(t('project.no_approvals'));
  return h('table', { class: 'responsive' },
    h('thead', {}, h('tr', {}, ['project.approval_item', 'project.approval_unit', 'project.approval_status', 'project.approval_at', 'project.approval_source']
      .map((key) => h('th', {}, t(key))))),
    h('tbody', {}, approvals.slice().reverse().map((a) => h('tr', {},
      h('td', { 'data-label': t('project.approval_item') }, a.item_name, a.stage ? h('div', { class: 'muted' }, t(`stage.${a.stage}`)) : null),
      h('td', { 'data-label': t('project.approval_unit') }, a.unit_name || a.unit_id || '—'),
      h('td', { 'data-label': t('project.approval_status') }, a.status),
      h('td', { 'data-label': t('project.approval_at') }, fmtDateTime(a.occurred_at)),
      h('td', { 'data-label': t('project.approval_source') }, t(`source.${a.source}`))))));
}

function problemsList(problems) {
  if (!problems.length) return emptyState(t('project.no_problems'));
  return h('ul', { class: 'list' }, problems.map((p) => h('li', {},
    h('a', { class: 'item', href: `/problem/${encodeURIComponent(p.id)}` },
      h('div', { class: 'title' }, p.title, ' ', problemStatusBadge(p.status)),
      h('div', { class: 'meta' }, h('span', {}, statusName('origin', p.origin)), h('span', {}, fmtDate(p.raised_at)),
        p.status !== 'closed' ? dueBadge(p.due_at) : null)))));
}

function flagsList(flags) {
  if (!flags.length) return null;
  return h('div', { class: 'notice' }, h('strong', {}, t('project.open_flags', { count: flags.length })),
    h('ul', {}, flags.map((f) => h('li', {}, `${f.unit_name || f.unit_id}：${f.reason}（${fmtDate(f.raised_at)}）`))));
}

async function diagramBlock(project) {
  const box = h('div', { class: 'diagram', id: 'project-diagram', 'aria-label': t('project.diagram') });
  if (!project.process_instance_key) return [box, emptyState(t('project.no_instance'))];
  (async () => {
    try {
      const diagram = await api(`/api/projects/${encodeURIComponent(project.project_code)}/diagram`);
      const viewer = createViewer(box);
      await showXml(viewer, diagram.xml);
      markInstance(viewer, diagram.marks);
    } catch (error) {
      clear(box, error instanceof ApiError && error.status === 404 ? emptyState(t('project.no_instance')) : errorBox(error));
    }
  })();
  return [box];
}

function reportForm(project) {
  const title = h('input', { id: 'report-title', name: 'title', required: true, maxlength: 200 });
  const category = h('select', { id: 'report-category', name: 'category' },
    ['approval', 'land', 'planning', 'construction', 'utilities', 'funding', 'other'].map((c) => h('option', { value: c }, t(`category.${c}`))));
  const description = h('textarea', { id: 'report-description', name: 'description', maxlength: 4000 });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'panel', id: 'report-form', 'aria-labelledby': 'report-heading' },
    h('h2', { id: 'report-heading' }, t('project.report')),
    h('div', { class: 'field' }, h('label', { for: 'report-title' }, t('project.report_title')), title),
    h('div', { class: 'field' }, h('label', { for: 'report-category' }, t('project.report_category')), category),
    h('div', { class: 'field' }, h('label', { for: 'report-description' }, t('project.report_description')), description),
    error,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('project.report_submit'))));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      const report = await api('/api/problems', {
        method: 'POST',
        body: { project_code: project.project_code, category: category.value, title: title.value.trim(), description: description.value.trim() },
      });
      toast(t('project.reported'), 'success');
      form.reset();
      if (report?.problem?.id) location.href = `/problem/${encodeURIComponent(report.problem.id)}`;
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.lines.join('；') : err.message;
    }
  });
  return form;
}

function scoreField(name, labelKey) {
  const group = h('fieldset', { class: 'score' }, h('legend', {}, t(labelKey)),
    [1, 2, 3, 4, 5].map((n) => h('label', { class: 'score-option' },
      h('input', { type: 'radio', name, value: n, required: true }), ` ${n}`)));
  return group;
}

function evaluationForm(project) {
  const comment = h('textarea', { id: 'eval-comment', name: 'comment', maxlength: 2000 });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'panel', id: 'evaluation-form', 'aria-labelledby': 'eval-heading' },
    h('h2', { id: 'eval-heading' }, t('project.evaluate')),
    h('p', { class: 'muted' }, t('project.evaluate_hint')),
    scoreField('county_score', 'project.score_county'),
    scoreField('main_department_score', 'project.score_main'),
    scoreField('general_department_score', 'project.score_general'),
    h('div', { class: 'field' }, h('label', { for: 'eval-comment' }, t('project.evaluate_comment')), comment),
    error,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('project.evaluate_submit'))));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    error.textContent = '';
    try {
      await api('/api/evaluations', {
        method: 'POST',
        body: {
          project_code: project.project_code,
          county_score: Number(data.get('county_score')),
          main_department_score: Number(data.get('main_department_score')),
          general_department_score: Number(data.get('general_department_score')),
          comment: String(data.get('comment') || '').trim(),
        },
      });
      toast(t('project.evaluated'), 'success');
      form.reset();
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.lines.join('；') : err.message;
    }
  });
  return form;
}

async function main() {
  user = await startPage({ active: '/projects' });
  const container = $('project');
  let detail;
  try {
    detail = await api(`/api/projects/${encodeURIComponent(code)}`);
  } catch (error) {
    clear(container, errorBox(error));
    return;
  }
  const project = detail.project || detail;
  document.title = `${project.name} · ${t('app.name')}`;
  const isInvestor = hasRole(user, 'investor') && (user.project_codes || []).includes(project.project_code);
  clear(container,
    h('div', { class: 'page-title' }, h('h1', {}, project.name), lightBadge(project.light), h('span', { class: 'muted mono' }, project.project_code)),
    project.light === 'red' && project.light_reason ? h('p', { class: 'error-box' }, t('project.red_reason', { reason: project.light_reason, at: fmtDate(project.light_changed_at) })) : null,
    flagsList(detail.open_flags || []),
    h('section', { class: 'panel', 'aria-labelledby': 'facts-heading' },
      h('h2', { id: 'facts-heading' }, t('project.facts')),
      stageTimeline({ ...project, stage_history: detail.timeline || project.stage_history }),
      h('dl', { class: 'facts' },
        h('dt', {}, t('project.investor')), h('dd', {}, project.investor?.company, project.investor?.contact_name ? ` · ${project.investor.contact_name}` : ''),
        h('dt', {}, t('projects.county')), h('dd', {}, project.county?.name),
        h('dt', {}, t('project.industry')), h('dd', {}, project.industry),
        h('dt', {}, t('projects.amount')), h('dd', {}, fmtAmount(project.amount_cny)),
        h('dt', {}, t('projects.signed_at')), h('dd', {}, fmtDate(project.signed_at)),
        h('dt', {}, t('projects.last_progress')), h('dd', {}, fmtDateTime(project.last_progress_at)))),
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel', 'aria-labelledby': 'problems-heading' },
        h('h2', { id: 'problems-heading' }, t('project.problems')), problemsList(detail.problems || [])),
      h('section', { class: 'panel', 'aria-labelledby': 'approvals-heading' },
        h('h2', { id: 'approvals-heading' }, t('project.approvals')), approvalsTable(detail.approvals || []))),
    h('section', { class: 'panel', 'aria-labelledby': 'diagram-heading' },
      h('h2', { id: 'diagram-heading' }, t('project.diagram')), await diagramBlock(project)),
    isInvestor ? h('div', { class: 'grid-2' }, reportForm(project), evaluationForm(project)) : null);
}

main();

// The big screen: the city's districts (GeoJSON, no basemap) coloured by red lights, a live ticker,
// this month's red lights, problems found / resolved / rate with a trend, problems by category and
// unit, the yellow-flag board, the stage funnel, the horse race, and the (engine) clock. Live through
// SSE; every event also schedules a refresh of the figures, and the stream reconnects by itself after
// a gateway restart.

import { STAGES } from './domain.js';
import {
  api, ApiError, clear, fmtAmount, fmtDate, fmtNumber, fmtPercent, fmtTime, h, lang, setLang,
  startPage, subscribe, t,
} from './qly.js';

const $ = (id) => document.getElementById(id);
const COLORS = { red: '#ff5a5f', amber: '#ffc53d', green: '#34d399', blue: '#4cb8ff', text: '#e3ecf8', muted: '#8fa6c4', line: 'rgba(143,166,196,0.25)' };
const charts = {};
const state = { data: null, geo: null, cityCode: '320800', race: 'counties', clock: null, controlled: false, ticker: [] };

// --- data ----------------------------------------------------------------------------------------

const screenApi = {
  summary: () => api('/api/dashboards/summary'),
  problems: () => api('/api/dashboards/problems'),
  race: () => api('/api/dashboards/horse-race'),
};

// Three answers, one picture; a failing part leaves its tiles as they were and says why.
async function loadDashboard() {
  const [summary, problems, race] = await Promise.allSettled([screenApi.summary(), screenApi.problems(), screenApi.race()]);
  if (summary.status === 'rejected') throw summary.reason;
  state.data = {
    ...summary.value,
    analysis: problems.status === 'fulfilled' ? problems.value : state.data?.analysis,
    race: race.status === 'fulfilled' ? race.value : state.data?.race,
  };
  const failed = [problems, race].find((part) => part.status === 'rejected');
  if (failed) showError(failed.reason);
  if (summary.value.as_of) setClock(summary.value.as_of);
  $('updated-at').textContent = fmtTime(new Date(nowMs()));
  return state.data;
}

// --- the clock: engine time when the clock is controlled, advanced locally between updates --------

// The gateway answers in engine time; when that is more than a minute off this computer's clock, the
// engine's clock has been moved (a demo, a test) and the screen says so.
function setClock(instant) {
  const at = new Date(instant).getTime();
  if (Number.isNaN(at)) return;
  state.clock = { at, fetched: Date.now() };
  state.controlled = Math.abs(at - Date.now()) > 60000;
  tick();
}

function nowMs() {
  return state.clock ? state.clock.at + (Date.now() - state.clock.fetched) : Date.now();
}

function tick() {
  const now = new Date(nowMs());
  $('clock-date').textContent = fmtDate(now);
  $('clock-time').textContent = fmtTime(now);
  $('clock-kind').textContent = state.controlled ? t('screen.engine_time') : '';
}

// --- charts ----------------------------------------------------------------------------------------

function chart(id) {
  if (!charts[id]) {
    charts[id] = window.echarts.init($(id), null, { renderer: 'canvas' });
  }
  return charts[id];
}

const axisStyle = {
  axisLine: { lineStyle: { color: COLORS.line } },
  axisLabel: { color: COLORS.muted },
  splitLine: { lineStyle: { color: COLORS.line, type: 'dashed' } },
};
const textStyle = { color: COLORS.text, fontFamily: getComputedStyle(document.body).fontFamily };

async function loadGeo(cityCode) {
  if (state.geo?.code === cityCode) return state.geo;
  const response = await fetch(`/vendor/china-map/${cityCode}.json`);
  if (!response.ok) throw new Error(t('screen.map_missing', { code: cityCode }));
  const geojson = await response.json();
  window.echarts.registerMap(`city-${cityCode}`, geojson);
  const names = {};
  const centers = {};
  for (const feature of geojson.features) {
    names[String(feature.properties.adcode)] = feature.properties.name;
    centers[String(feature.properties.adcode)] = feature.properties.centroid || feature.properties.center;
  }
  state.geo = { code: cityCode, names, centers };
  return state.geo;
}

// The city is the parent of the counties' codes (320812 → 320800).
function cityOf(counties) {
  const code = counties.map((c) => String(c.code || c.county_code || '')).find((c) => /^\d{6}$/.test(c));
  return code ? `${code.slice(0, 4)}00` : state.cityCode;
}

async function renderMap(counties) {
  const geo = await loadGeo(cityOf(counties));
  const byCode = Object.fromEntries(counties.map((c) => [String(c.code), c]));
  const data = Object.entries(geo.names).map(([code, name]) => {
    const county = byCode[code] || {};
    return { name, code, value: county.red || 0, projects: county.projects || 0, red: county.red || 0 };
  });
  const maxRed = Math.max(1, ...data.map((d) => d.red));
  const byName = Object.fromEntries(data.map((d) => [d.name, d]));
  const redPoints = data.filter((d) => d.red > 0 && geo.centers[d.code])
    .map((d) => ({ name: d.name, value: [...geo.centers[d.code], d.red] }));
  chart('map').setOption({
    backgroundColor: 'transparent',
    textStyle,
    tooltip: {
      trigger: 'item',
      formatter: (p) => {
        const d = byName[p.name] || {};
        return `${p.name}<br>${t('screen.projects')}: ${fmtNumber(d.projects)}<br>${t('light.red')}: ${fmtNumber(d.red)}`;
      },
    },
    visualMap: {
      min: 0, max: maxRed, left: 10, bottom: 10, calculable: false, seriesIndex: 0,
      text: [t('screen.more_red'), t('screen.no_red')], textStyle: { color: COLORS.muted },
      inRange: { color: ['#12406e', '#7a3b5a', '#c8404b', COLORS.red] },
    },
    geo: {
      map: `city-${geo.code}`, roam: false, layoutCenter: ['50%', '50%'], layoutSize: '100%',
      itemStyle: { areaColor: '#12406e', borderColor: '#4cb8ff', borderWidth: 1 },
      emphasis: { itemStyle: { areaColor: '#1e5a96' }, label: { color: '#fff' } },
      // Each district names itself with its figures; the label sits where ECharts finds room.
      label: {
        show: true, color: COLORS.text, fontSize: 12, lineHeight: 16, offset: [0, 18],
        formatter: (p) => {
          const d = byName[p.name] || { projects: 0, red: 0 };
          return `{n|${p.name}}\n${t('screen.map_counts', { projects: d.projects, red: d.red })}`;
        },
        rich: { n: { fontWeight: 'bold', fontSize: 14, color: '#fff', lineHeight: 18 } },
      },
    },
    series: [
      { type: 'map', geoIndex: 0, data },
      {
        type: 'effectScatter', coordinateSystem: 'geo', data: redPoints, symbolSize: (v) => 10 + Math.sqrt(v[2]) * 4,
        rippleEffect: { brushType: 'stroke', scale: 3 }, itemStyle: { color: COLORS.red }, zlevel: 2,
        tooltip: { formatter: (p) => `${p.name}<br>${t('light.red')}: ${p.value[2]}` },
      },
    ],
  }, true);
  // The same figures as a table for screen readers (the canvas says nothing to them).
  clear($('map-table'),
    h('caption', {}, t('screen.map_label')),
    h('tr', {}, h('th', {}, t('screen.county')), h('th', {}, t('screen.projects')), h('th', {}, t('light.red'))),
    data.map((d) => h('tr', { dataset: { code: d.code, red: d.red, projects: d.projects } }, h('td', {}, d.name), h('td', {}, String(d.projects)), h('td', {}, String(d.red)))));
}

function renderTrend(trend) {
  chart('trend').setOption({
    backgroundColor: 'transparent', textStyle,
    tooltip: { trigger: 'axis' },
    legend: { data: [t('screen.found'), t('screen.resolved'), t('screen.rate')], textStyle: { color: COLORS.muted }, top: 0 },
    grid: { left: 40, right: 44, top: 34, bottom: 26 },
    xAxis: { type: 'category', data: trend.map((p) => p.label), ...axisStyle },
    yAxis: [
      { type: 'value', minInterval: 1, ...axisStyle },
      // Resolved in a month can exceed found in it (older problems closing): the axis grows past 100% then.
      { type: 'value', min: 0, max: (extent) => Math.max(100, Math.ceil(extent.max / 20) * 20), axisLabel: { color: COLORS.muted, formatter: '{value}%' }, splitLine: { show: false } },
    ],
    series: [
      { name: t('screen.found'), type: 'bar', data: trend.map((p) => p.found), itemStyle: { color: COLORS.blue }, barMaxWidth: 14 },
      { name: t('screen.resolved'), type: 'bar', data: trend.map((p) => p.resolved), itemStyle: { color: COLORS.green }, barMaxWidth: 14 },
      {
        name: t('screen.rate'), type: 'line', yAxisIndex: 1, symbol: 'circle',
        data: trend.map((p) => (p.rate === null || p.rate === undefined ? null : Math.round(p.rate * 1000) / 10)),
        itemStyle: { color: COLORS.amber },
      },
    ],
  }, true);
}

function renderAnalysis(byCategory, byUnit) {
  chart('by-category').setOption({
    backgroundColor: 'transparent', textStyle,
    tooltip: { trigger: 'item' },
    series: [{
      type: 'pie', radius: ['38%', '66%'], center: ['50%', '55%'],
      data: byCategory.map((c) => ({ name: c.label, value: c.count })),
      label: { color: COLORS.text, formatter: '{b}\n{c}' },
      itemStyle: { borderColor: '#06142b', borderWidth: 2 },
    }],
  }, true);
  const units = byUnit.slice(0, 8).reverse();
  chart('by-unit').setOption({
    backgroundColor: 'transparent', textStyle,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 30, top: 10, bottom: 10, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, ...axisStyle },
    yAxis: { type: 'category', data: units.map((u) => u.label), ...axisStyle, axisLabel: { color: COLORS.text, width: 110, overflow: 'truncate', interval: 0 } },
    series: [
      { name: t('screen.open'), type: 'bar', stack: 'u', data: units.map((u) => u.open), itemStyle: { color: COLORS.amber }, barMaxWidth: 12 },
      { name: t('screen.resolved'), type: 'bar', stack: 'u', data: units.map((u) => u.resolved), itemStyle: { color: COLORS.green }, barMaxWidth: 12 },
    ],
  }, true);
}

function renderFunnel(steps) {
  const byStage = Object.fromEntries(steps.map((step) => [step.stage, step]));
  const data = STAGES.map((stage) => ({ name: t(`stage.${stage}`), value: byStage[stage]?.reached ?? 0, atStage: byStage[stage]?.at_stage ?? 0 }));
  chart('funnel').setOption({
    backgroundColor: 'transparent', textStyle,
    tooltip: { trigger: 'item', formatter: (p) => t('screen.funnel_tip', { stage: p.name, reached: p.value, at: p.data.atStage }) },
    series: [{
      type: 'funnel', sort: 'none', left: '4%', right: '26%', top: 6, bottom: 6, minSize: '18%', gap: 2,
      data, label: { color: '#fff', formatter: '{b}  {c}' },
      itemStyle: { borderWidth: 0 },
      color: ['#1e6fd9', '#2a80e0', '#3a91e6', '#4ca2ec', '#5fb2f0', '#34b3a0', '#2fbf87', '#34d399'],
    }],
  }, true);
}

function renderRace() {
  const race = state.race_rows || {};
  const rows = (state.race === 'counties' ? race.counties : race.departments) || [];
  const top = rows.slice(0, 10).reverse();
  chart('race').setOption({
    backgroundColor: 'transparent', textStyle,
    tooltip: {
      trigger: 'axis', axisPointer: { type: 'shadow' },
      formatter: (items) => {
        const row = top[items[0].dataIndex];
        return [`<b>${row.label}</b>`, `${t('screen.score')}: ${fmtNumber(row.score, 1)}`,
          row.resolution_rate !== undefined ? `${t('screen.rate')}: ${fmtPercent(row.resolution_rate)}` : null,
          row.open_flags !== undefined ? `${t('screen.flags')}: ${row.open_flags}` : null,
          row.evaluation !== undefined && row.evaluation !== null ? `${t('screen.evaluation')}: ${fmtNumber(row.evaluation, 2)}` : null]
          .filter(Boolean).join('<br>');
      },
    },
    grid: { left: 8, right: 40, top: 6, bottom: 6, containLabel: true },
    xAxis: { type: 'value', max: 100, ...axisStyle },
    yAxis: { type: 'category', data: top.map((r) => r.label), ...axisStyle, axisLabel: { color: COLORS.text, width: 120, overflow: 'truncate', interval: 0 } },
    series: [{
      type: 'bar', data: top.map((r) => r.score), barMaxWidth: 14, realtimeSort: false,
      itemStyle: { color: new window.echarts.graphic.LinearGradient(0, 0, 1, 0, [{ offset: 0, color: '#1e6fd9' }, { offset: 1, color: COLORS.blue }]) },
      label: { show: true, position: 'right', color: COLORS.text, formatter: (p) => fmtNumber(p.value, 1) },
    }],
  }, true);
}

// --- lists -----------------------------------------------------------------------------------------

function renderRedList(items) {
  const list = $('red-list');
  if (!items.length) {
    clear(list, h('li', { class: 'empty' }, t('screen.no_red_month')));
    return;
  }
  clear(list, items.slice(0, 12).map((item, index) => h('li', { dataset: { projectCode: item.project_code } },
    h('span', { class: 'rank' }, String(index + 1)),
    h('span', { class: 'name' }, item.name || item.project_code,
      h('span', { class: 'sub' }, [item.county_name, item.reason].filter(Boolean).join(' · '))),
    h('span', { class: 'figure' }, fmtDate(item.at)))));
}

function renderFlags(items) {
  const list = $('flag-board');
  if (!items.length) {
    clear(list, h('li', { class: 'empty' }, t('screen.no_flags')));
    return;
  }
  clear(list, items.slice(0, 10).map((item, index) => h('li', {},
    h('span', { class: 'rank' }, String(index + 1)),
    h('span', { class: 'name' }, h('span', { class: 'flag', 'aria-hidden': 'true' }, '⚑ '), item.label,
      item.detail ? h('span', { class: 'sub' }, item.detail) : null),
    h('span', { class: 'figure' }, t('screen.flag_count', { count: item.count })))));
}

function renderKpis(data) {
  const p = data.projects || {};
  const pr = data.problems || {};
  $('kpi-projects').textContent = fmtNumber(p.total);
  $('kpi-amount').textContent = p.amount_cny !== undefined ? fmtAmount(p.amount_cny) : '';
  $('kpi-red').textContent = fmtNumber(data.red_lights_month.length);
  $('kpi-red-total').textContent = p.red !== undefined ? t('screen.red_now', { count: p.red }) : '';
  $('kpi-found').textContent = fmtNumber(pr.found);
  $('kpi-resolved').textContent = fmtNumber(pr.resolved);
  $('kpi-rate').textContent = fmtPercent(pr.completion_rate);
}

function render() {
  const data = normalize(state.data);
  renderKpis(data);
  renderMap(data.counties).catch((error) => showError(error));
  renderTrend(data.trend);
  renderAnalysis(data.by_category, data.by_unit);
  renderRedList(data.red_lights_month);
  renderFlags(data.flags);
  renderFunnel(data.funnel);
  state.race_rows = data.race;
  renderRace();
}

// --- the dashboard API's answer, in the shape the tiles draw -----------------------------------------

function categoryName(key, name) {
  const translated = t(`category.${key}`);
  return translated === `category.${key}` ? name || key : translated;
}

function normalize(raw) {
  const analysis = raw.analysis || {};
  return {
    projects: raw.projects || {},
    problems: raw.problems || {},
    counties: (raw.counties || []).map((c) => ({ code: String(c.code), name: c.name, projects: c.projects, red: c.red })),
    trend: (raw.trend || []).map((p) => ({ label: p.month, found: p.found, resolved: p.resolved, rate: p.rate })),
    by_category: (analysis.by_category || []).map((c) => ({ label: categoryName(c.key, c.name), count: c.found })),
    by_unit: (analysis.by_unit || []).map((u) => ({ label: u.name || u.key, open: u.open, resolved: u.resolved })),
    red_lights_month: raw.red_lights_month || [],
    flags: (raw.flags || []).map((f) => ({
      label: f.unit_name || f.unit_id, count: f.count,
      detail: t('screen.flag_since', { date: fmtDate(f.oldest_raised_at), projects: f.project_codes.length }),
    })),
    funnel: raw.funnel || [],
    race: {
      counties: (raw.race?.counties || []).map((r) => ({ ...r, label: r.name || r.code })),
      departments: (raw.race?.departments || []).map((r) => ({ ...r, label: r.name || r.code })),
    },
  };
}

// --- the ticker --------------------------------------------------------------------------------------

// Workers write camelCase payloads without names, the gateway snake_case with them: read both, and look
// a project's name up once when the event does not carry it.
const projectNames = new Map();

function field(p, ...names) {
  for (const name of names) if (p[name] !== undefined && p[name] !== null) return p[name];
  return undefined;
}

async function projectName(code) {
  if (!code) return '';
  if (!projectNames.has(code)) {
    projectNames.set(code, api(`/api/projects/${encodeURIComponent(code)}`)
      .then((detail) => (detail.project || detail).name || code).catch(() => code));
  }
  return projectNames.get(code);
}

const unitNames = new Map();

async function unitName(id) {
  if (!id) return '';
  if (!unitNames.size) {
    try {
      for (const unit of await api('/api/units')) unitNames.set(unit.id, unit.name);
    } catch {
      // ids stand in for names
    }
  }
  return unitNames.get(id) || id;
}

// How an event reads on the wall: a kind (with its colour) and one line of text; null for events the
// wall does not show (task claims, engine records).
async function describe(event) {
  const p = event.payload || {};
  const code = field(p, 'project_code', 'projectCode') ?? event.scope?.project_code;
  const project = field(p, 'project_name', 'name') || await projectName(code);
  const stage = field(p, 'stage');
  switch (event.type) {
    case 'project.red_light':
      return ['red', t('ticker.red'), t('ticker.red_text', { project, days: field(p, 'days') ?? '' })];
    case 'project.green_light':
      return ['green', t('ticker.green'), t('ticker.green_text', { project })];
    case 'project.stage':
      return ['blue', t('ticker.stage'), t('ticker.stage_text', { project, stage: t(`stage.${stage}`) })];
    case 'project.signed':
      return ['blue', t('ticker.signed'), t('ticker.signed_text', { project })];
    case 'project.closed':
      return ['green', t('ticker.closed'), t('ticker.closed_text', { project })];
    case 'approval.recorded':
      return ['blue', t('ticker.approval'), t('ticker.approval_text', { project, item: field(p, 'item_name') || '', status: field(p, 'status') || '' })];
    case 'problem.raised':
    case 'problem.created':
      return ['amber', t('ticker.problem'), t('ticker.problem_text', { project, title: field(p, 'title') || t(`origin.${field(p, 'origin')}`) })];
    case 'problem.assigned':
      return ['blue', t('ticker.assigned'), t('ticker.assigned_text', { project, units: (await Promise.all((field(p, 'unitIds') || []).map(unitName))).join('、') })];
    case 'problem.reported':
      return ['green', t('ticker.reported'), t('ticker.reported_text', { project, unit: await unitName(field(p, 'unitId')) })];
    case 'problem.closed':
      return ['green', t('ticker.resolved'), t('ticker.resolved_text', { project })];
    case 'problem.sent_back':
      return ['amber', t('ticker.sent_back'), t('ticker.sent_back_text', { project })];
    case 'flag.raised':
      return ['amber', t('ticker.flag'), t('ticker.flag_text', { unit: await unitName(field(p, 'unitId', 'unit_id')), project })];
    case 'flag.lifted':
      return ['green', t('ticker.flag_lifted'), t('ticker.flag_lifted_text', { unit: await unitName(field(p, 'unitId', 'unit_id')), project })];
    case 'task.completed':
      return ['green', t('ticker.task'), t('ticker.task_text', { name: field(p, 'name') || '', project })];
    case 'evaluation.recorded':
    case 'evaluation.submitted':
      return ['blue', t('ticker.evaluation'), t('ticker.evaluation_text', { project })];
    default:
      return null;
  }
}

// Events arrive in order; names are looked up concurrently, so lines are added through one queue.
let tickerQueue = Promise.resolve();

function addTicker(event, { fresh = true } = {}) {
  const described = describe(event);
  tickerQueue = tickerQueue.then(async () => {
    const line = await described.catch(() => null);
    if (!line) return;
    const [cls, kind, text] = line;
    const list = $('ticker');
    list.prepend(h('li', { class: fresh ? 'fresh' : null, dataset: { type: event.type } },
      h('time', { datetime: event.occurred_at }, fmtTime(event.occurred_at)),
      h('span', { class: `kind ${cls}` }, kind),
      h('span', { class: 'text', title: text }, text)));
    while (list.children.length > 40) list.lastElementChild.remove();
  });
  return tickerQueue;
}

// --- live --------------------------------------------------------------------------------------------

let refreshTimer = null;

function scheduleRefresh(delay = 1500) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    try {
      await loadDashboard();
      render();
      hideError();
    } catch (error) {
      showError(error);
    }
  }, delay);
}

function showError(error) {
  let box = document.querySelector('.screen-error');
  if (!box) {
    box = h('div', { class: 'screen-error error-box', role: 'alert' });
    document.body.append(box);
  }
  clear(box, h('p', {}, error instanceof ApiError ? error.lines.join(' · ') : error.message || String(error)));
}

function hideError() {
  document.querySelector('.screen-error')?.remove();
}

function live(lastId) {
  const label = $('live-state');
  let wasDown = false;
  subscribe('/api/events', {
    lastId,
    onState: (status) => {
      label.className = `live-state ${status}`;
      label.textContent = t(`screen.live_${status}`);
      if (status === 'open' && wasDown) scheduleRefresh(0); // back after a restart: catch up at once
      wasDown = status !== 'open';
    },
    onEvent: (message) => {
      const event = message.data && typeof message.data === 'object' ? message.data : null;
      if (!event) return;
      const type = event.type || message.type;
      if (event.occurred_at && state.controlled) setClock(event.occurred_at);
      // Engine-level records (every element activation) move no figure; domain events do.
      if (type.startsWith('engine.')) return;
      addTicker({ ...event, type });
      scheduleRefresh();
    },
  });
}

// The latest events fill the ticker at start; the live stream then resumes after the last of them.
// Without any, the latest approval records of the summary stand in.
const TICKER_TYPES = 'project.,problem.,flag.,approval.,evaluation.,task.completed';

async function fillTicker() {
  try {
    const recent = await api('/api/events/recent', { query: { limit: 30, types: TICKER_TYPES } });
    for (const event of recent) addTicker(event, { fresh: false });
    if (recent.length) return recent[recent.length - 1].id;
  } catch {
    // fall through to the summary's records
  }
  for (const item of (state.data?.ticker || []).slice().reverse()) {
    addTicker({
      type: 'approval.recorded', occurred_at: item.at,
      payload: { project_code: item.project_code, project_name: item.project_name, item_name: item.item_name, status: item.status },
    }, { fresh: false });
  }
  return null;
}

function setupRaceSwitch() {
  for (const tab of document.querySelectorAll('[data-race]')) {
    tab.addEventListener('click', () => {
      state.race = tab.dataset.race;
      for (const other of document.querySelectorAll('[data-race]')) other.setAttribute('aria-selected', String(other === tab));
      renderRace();
    });
  }
}

async function main() {
  await startPage({ active: '/screen', chrome: false });
  const other = lang() === 'zh-CN' ? 'en' : 'zh-CN';
  $('lang').textContent = other === 'en' ? 'English' : '中文';
  $('lang').addEventListener('click', () => setLang(other));
  if (!window.echarts) {
    showError(new Error(t('common.vendor_missing', { name: 'echarts' })));
    return;
  }
  setupRaceSwitch();
  tick();
  setInterval(tick, 1000);
  window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
  try {
    await loadDashboard();
    render();
  } catch (error) {
    showError(error);
  }
  live(await fillTicker());
  // A safety net for a missed event: the figures are refreshed every minute anyway.
  setInterval(() => scheduleRefresh(0), 60000);
  document.documentElement.dataset.ready = 'true';
}

main();

// The one module every page shares: i18n, auth (OAuth2 password flow), the API client, live events
// (SSE read through fetch so the bearer token can be sent), formatting in Asia/Shanghai, and the page
// chrome (header, login dialog, toasts). Plain ES module, no build step.

const TOKEN_KEY = 'qly.token';
const LANG_KEY = 'qly.lang';
export const ZONE = 'Asia/Shanghai';
export const TOKEN_URL = '/api/auth/token';

// ---------------------------------------------------------------------------------------------
// i18n: Chinese is the source language; English is a full dictionary over the same keys.

const dictionaries = {};
let currentLang = localStorage.getItem(LANG_KEY) || 'zh-CN';
if (!['zh-CN', 'en'].includes(currentLang)) currentLang = 'zh-CN';

export function lang() {
  return currentLang;
}

export async function loadI18n() {
  const wanted = new Set(['zh-CN', currentLang]);
  await Promise.all([...wanted].map(async (code) => {
    if (dictionaries[code]) return;
    const response = await fetch(`/static/i18n/${code}.json`);
    dictionaries[code] = response.ok ? await response.json() : {};
  }));
  document.documentElement.lang = currentLang;
}

// t('screen.map_counts', { projects: 3, red: 1 }) — falls back to Chinese, then to the key itself so a gap is visible.
export function t(key, vars = {}) {
  const text = dictionaries[currentLang]?.[key] ?? dictionaries['zh-CN']?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

// Elements carry data-i18n="key" (text) and data-i18n-attr="attr:key;attr:key" (attributes).
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  const title = document.querySelector('title[data-i18n]');
  if (title) document.title = t(title.dataset.i18n);
}

export function setLang(code) {
  localStorage.setItem(LANG_KEY, code);
  location.reload();
}

// Domain words that come from the API as codes.
export function stageName(stage) {
  return t(`stage.${stage}`);
}

export function statusName(kind, value) {
  return t(`${kind}.${value}`);
}

// ---------------------------------------------------------------------------------------------
// DOM building without innerHTML, so API text can never become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

// ---------------------------------------------------------------------------------------------
// Time: the API speaks UTC ISO strings; people read Asia/Shanghai.

const formatters = {};
function formatter(kind) {
  const key = `${currentLang}:${kind}`;
  if (!formatters[key]) {
    const options = {
      date: { year: 'numeric', month: '2-digit', day: '2-digit' },
      datetime: { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false },
      time: { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false },
      month: { year: 'numeric', month: 'long' },
    }[kind];
    formatters[key] = new Intl.DateTimeFormat(currentLang, { timeZone: ZONE, ...options });
  }
  return formatters[key];
}

function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function fmtDate(value) {
  const date = toDate(value);
  return date ? formatter('date').format(date) : '—';
}

export function fmtDateTime(value) {
  const date = toDate(value);
  return date ? formatter('datetime').format(date) : '—';
}

export function fmtTime(value) {
  const date = toDate(value);
  return date ? formatter('time').format(date) : '—';
}

export function fmtMonth(value) {
  const date = toDate(value);
  return date ? formatter('month').format(date) : '—';
}

export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return new Intl.NumberFormat(currentLang, { maximumFractionDigits: digits }).format(value);
}

export function fmtPercent(ratio) {
  if (ratio === null || ratio === undefined) return '—';
  return new Intl.NumberFormat(currentLang, { style: 'percent', maximumFractionDigits: 1 }).format(ratio);
}

// Yuan → 亿元 for Chinese, millions for English: the units people use for investment sizes.
export function fmtAmount(yuan) {
  if (yuan === null || yuan === undefined) return '—';
  return currentLang === 'zh-CN'
    ? `${fmtNumber(yuan / 1e8, 2)} 亿元`
    : `¥${fmtNumber(yuan / 1e6, 1)} M`;
}

// 'overdue' | 'soon' (within 2 days) | 'ok' | null, measured against `now` (engine time when known).
export function dueState(due, now = Date.now()) {
  const date = toDate(due);
  if (!date) return null;
  const left = date.getTime() - (now instanceof Date ? now.getTime() : now);
  if (left < 0) return 'overdue';
  if (left < 2 * 86400e3) return 'soon';
  return 'ok';
}

export function dueBadge(due, now) {
  const state = dueState(due, now);
  if (!state) return null;
  const label = state === 'overdue' ? t('due.overdue') : state === 'soon' ? t('due.soon') : t('due.ok');
  return h('span', { class: `badge due-${state}`, title: fmtDateTime(due) }, `${label} · ${fmtDate(due)}`);
}

// ---------------------------------------------------------------------------------------------
// Auth: the gateway's OAuth2 password flow. Access tokens are short-lived; the refresh token (rotated
// on every use) renews them, so a wall screen stays signed in. Both live in localStorage. Claims are
// read from the token only to label the UI; the gateway checks every call.

const REFRESH_KEY = 'qly.refresh';

function storedToken() {
  return localStorage.getItem(TOKEN_KEY);
}

function expiresSoon(jwt, marginMs = 30000) {
  const c = decodeClaims(jwt);
  return !c?.exp || c.exp * 1000 - marginMs < Date.now();
}

export function token() {
  const value = storedToken();
  return value && !expiresSoon(value, 0) ? value : null;
}

function decodeClaims(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(atob(part).split('').map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

let me = null;
let refreshing = null;

function storeTokens(data) {
  localStorage.setItem(TOKEN_KEY, data.access_token);
  if (data.refresh_token) localStorage.setItem(REFRESH_KEY, data.refresh_token);
}

function forgetTokens() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(REFRESH_KEY);
  me = null;
}

async function postToken(fields) {
  const response = await fetch(TOKEN_URL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams(fields),
  });
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A valid access token, renewed through the refresh token when it is about to expire; null when
// signed out (or the refresh token was revoked or expired).
export async function freshToken() {
  const value = storedToken();
  if (value && !expiresSoon(value)) return value;
  const refresh = localStorage.getItem(REFRESH_KEY);
  if (!refresh) return token();
  if (!refreshing) {
    refreshing = postToken({ grant_type: 'refresh_token', refresh_token: refresh })
      .then((data) => {
        storeTokens(data);
        return data.access_token;
      })
      .catch((error) => {
        // Only a refusal ends the session; a network error (gateway restarting) keeps it for a retry.
        if (error instanceof ApiError && error.status < 500) forgetTokens();
        return token();
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

export function claims() {
  const value = token();
  return value ? decodeClaims(value) : null;
}

export async function login(username, password) {
  const data = await postToken({ grant_type: 'password', username, password });
  storeTokens(data);
  me = null;
  return data;
}

export async function logout() {
  const refresh = localStorage.getItem(REFRESH_KEY);
  forgetTokens();
  if (refresh) {
    await fetch('/api/auth/logout', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ refresh_token: refresh }),
    }).catch(() => {});
  }
  location.reload();
}

// The signed-in user as the gateway describes them (/api/auth/me); null when not signed in.
export async function currentUser() {
  if (!(await freshToken())) return null;
  if (me) return me;
  try {
    me = await api('/api/auth/me');
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
  return me;
}

export function hasRole(user, ...roles) {
  return !!user && (user.roles || []).some((role) => roles.includes(role));
}

// ---------------------------------------------------------------------------------------------
// API: JSON in, JSON out; RFC 9457 problem details become ApiError with their fields.

export class ApiError extends Error {
  constructor(status, body) {
    const problem = body && typeof body === 'object' ? body : { detail: String(body || '') };
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  // Messages meant for a person: the problem's detail, plus per-field errors when the gateway sent them.
  get lines() {
    const lines = [];
    if (this.problem.title && this.problem.title !== this.message) lines.push(this.problem.title);
    lines.push(this.message);
    for (const item of this.problem.errors || []) {
      if (typeof item === 'string') lines.push(item);
      else lines.push([item.element_id || item.loc?.join?.('.') || item.field, item.message || item.msg].filter(Boolean).join(': '));
    }
    return lines;
  }
}

async function readBody(response) {
  const type = response.headers.get('content-type') || '';
  if (response.status === 204) return null;
  if (type.includes('json')) return response.json();
  return response.text();
}

let onUnauthorized = null;

export async function api(path, { method = 'GET', body, query, headers = {}, raw = false } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value === null || value === undefined || value === '') continue;
      for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
    }
    const text = params.toString();
    if (text) url += (url.includes('?') ? '&' : '?') + text;
  }
  const init = { method, headers: { Accept: 'application/json, application/problem+json', ...headers } };
  const bearer = await freshToken();
  if (bearer) init.headers.Authorization = `Bearer ${bearer}`;
  if (body instanceof FormData || body instanceof Blob || typeof body === 'string') {
    init.body = body;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  if (raw && response.ok) return response;
  const data = await readBody(response);
  if (response.status === 401 && onUnauthorized) onUnauthorized();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// ---------------------------------------------------------------------------------------------
// Live events: Server-Sent Events parsed from a fetch stream (EventSource cannot send a bearer
// token). Reconnects with back-off after errors or a gateway restart, resuming from Last-Event-ID.

export function subscribe(path, { onEvent, onState = () => {}, query, lastId: since = null } = {}) {
  let lastId = since;
  let stopped = false;
  let controller = null;
  let delay = 1000;

  async function connect() {
    while (!stopped) {
      controller = new AbortController();
      try {
        onState('connecting');
        const headers = { Accept: 'text/event-stream' };
        const bearer = await freshToken();
        if (bearer) headers.Authorization = `Bearer ${bearer}`;
        if (lastId) headers['Last-Event-ID'] = lastId;
        const qs = query ? `?${new URLSearchParams(query)}` : '';
        const response = await fetch(path + qs, { headers, signal: controller.signal, cache: 'no-store' });
        if (response.status === 401) {
          onState('unauthorized');
          await freshToken();
          throw new Error('HTTP 401');
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onState('open');
        delay = 1000;
        await readStream(response.body, (message) => {
          if (message.id) lastId = message.id;
          if (message.data === undefined) return;
          let data = message.data;
          try {
            data = JSON.parse(message.data);
          } catch {
            // plain-text data stays a string
          }
          onEvent({ id: message.id, type: message.event || 'message', data });
        });
        if (!stopped) onState('closed');
      } catch (error) {
        if (stopped) return;
        onState('error', error);
      }
      if (stopped) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  connect();
  return {
    close() {
      stopped = true;
      controller?.abort();
    },
  };
}

async function readStream(body, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let message = {};
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (message.data !== undefined || message.id) dispatch(message);
        message = {};
        continue;
      }
      if (line.startsWith(':')) continue; // comment / keep-alive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const raw = colon < 0 ? '' : line.slice(colon + 1);
      const text = raw.startsWith(' ') ? raw.slice(1) : raw;
      if (field === 'data') message.data = message.data === undefined ? text : `${message.data}\n${text}`;
      else if (field === 'event') message.event = text;
      else if (field === 'id') message.id = text;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Page chrome: header with navigation, language switch and user; the login dialog; toasts.

const NAV = [
  { href: '/screen', key: 'nav.screen', roles: ['leader', 'admin'] },
  { href: '/tasks', key: 'nav.tasks' },
  { href: '/projects', key: 'nav.projects' },
  { href: '/problems', key: 'nav.problems' },
  { href: '/modeler', key: 'nav.modeler', roles: ['process_designer', 'admin'] },
  { href: '/operate', key: 'nav.operate', roles: ['admin'] },
];

export function toast(message, kind = 'info') {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(region);
  }
  const lines = message instanceof ApiError ? message.lines : [message instanceof Error ? message.message : String(message)];
  const item = h('div', { class: `toast toast-${kind}` }, lines.map((line) => h('div', {}, line)));
  region.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 4000);
}

function langSwitch() {
  const other = currentLang === 'zh-CN' ? 'en' : 'zh-CN';
  return h('button', { type: 'button', class: 'link-button lang-switch', lang: other, onclick: () => setLang(other) },
    other === 'en' ? 'English' : '中文');
}

export async function mountHeader(active) {
  const user = await currentUser().catch(() => null);
  const links = NAV.filter((item) => !item.roles || hasRole(user, ...item.roles)).map((item) =>
    h('a', { href: item.href, 'aria-current': item.href === active ? 'page' : null }, t(item.key)));
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '/portal' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '千'), t('app.name')),
    h('nav', { 'aria-label': t('nav.label') }, links),
    h('div', { class: 'topbar-right' },
      langSwitch(),
      user
        ? [h('span', { class: 'user' }, user.display_name || user.username),
          h('button', { type: 'button', class: 'link-button', onclick: logout }, t('auth.logout'))]
        : h('button', { type: 'button', class: 'link-button', onclick: () => showLogin() }, t('auth.login'))));
  document.body.prepend(header);
  return user;
}

// A modal login form; resolves with the user once signed in.
export function showLogin({ reason } = {}) {
  return new Promise((resolve) => {
    document.getElementById('login-dialog')?.remove();
    const error = h('p', { class: 'form-error', role: 'alert' });
    const username = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true });
    const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const form = h('form', { class: 'login-form', method: 'dialog' },
      h('h2', {}, t('auth.title')),
      reason ? h('p', { class: 'muted' }, reason) : null,
      h('label', { for: 'login-username' }, t('auth.username')), username,
      h('label', { for: 'login-password' }, t('auth.password')), password,
      error,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('auth.submit'))));
    const dialog = h('dialog', { id: 'login-dialog', 'aria-labelledby': 'login-title' }, form);
    form.querySelector('h2').id = 'login-title';
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      try {
        await login(username.value.trim(), password.value);
        dialog.close();
        dialog.remove();
        resolve(await currentUser());
      } catch (err) {
        error.textContent = err.status === 401 || err.status === 400 ? t('auth.failed') : (err.message || String(err));
      }
    });
    dialog.addEventListener('cancel', (event) => event.preventDefault());
    document.body.append(dialog);
    dialog.showModal();
    username.focus();
  });
}

// Every page starts here: dictionaries, header, and (unless the page is public) a signed-in user.
export async function startPage({ active, requireLogin = true, chrome = true } = {}) {
  await loadI18n();
  applyI18n();
  onUnauthorized = forgetTokens;
  let user = chrome ? await mountHeader(active) : await currentUser().catch(() => null);
  if (!user && requireLogin) {
    user = await showLogin();
    if (chrome) {
      document.querySelector('header.topbar')?.remove();
      await mountHeader(active);
    }
  }
  return user;
}

export function params() {
  return new URLSearchParams(location.search);
}

// The last path segment after a prefix: /projects/ABC → 'ABC'.
export function pathId(prefix) {
  const path = decodeURIComponent(location.pathname);
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) || null : null;
}

export function emptyState(text) {
  return h('p', { class: 'empty' }, text);
}

export function loading() {
  return h('p', { class: 'loading', 'aria-busy': 'true' }, t('common.loading'));
}

export function errorBox(error) {
  const lines = error instanceof ApiError ? error.lines : [error?.message || String(error)];
  return h('div', { class: 'error-box', role: 'alert' }, lines.map((line) => h('p', {}, line)));
}

// Previous / "page n of m" / next under a paged list; step(-1) or step(+1) moves the list's page.
// hideSingle: nothing at all when everything fits on one page.
export function pager(page, step, { hideSingle = false } = {}) {
  const pages = page.pages ?? Math.max(1, Math.ceil(page.total / page.size));
  if (hideSingle && pages <= 1) return [];
  return [
    h('button', { type: 'button', disabled: page.page <= 1, onclick: () => step(-1) }, t('common.prev')),
    h('span', { class: 'muted' }, t('common.page', { page: page.page, pages, total: page.total })),
    h('button', { type: 'button', disabled: page.page >= pages, onclick: () => step(1) }, t('common.next')),
  ];
}

// A check that a vendor bundle loaded; shows a clear message instead of a blank page.
export function requireGlobal(name, container) {
  if (window[name]) return window[name];
  clear(container, h('div', { class: 'error-box', role: 'alert' }, h('p', {}, t('common.vendor_missing', { name }))));
  throw new Error(`${name} is not loaded`);
}

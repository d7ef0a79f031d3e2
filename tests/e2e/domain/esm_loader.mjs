// Lets node import bpmn-js's sources as they ship (ES modules in a package without "type": "module",
// with extensionless relative imports), so the test runs bpmn-js's own import walker without a browser.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function resolve(specifier, context, next) {
  if ((specifier.startsWith('./') || specifier.startsWith('../')) && context.parentURL
      && context.parentURL.includes('/node_modules/bpmn-js/') && !/\.[cm]?js$/.test(specifier)) {
    const candidate = new URL(specifier + '.js', context.parentURL);
    if (existsSync(fileURLToPath(candidate))) {
      return next(candidate.href, context);
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.includes('/node_modules/bpmn-js/lib/')) {
    return next(url, { ...context, format: 'module' });
  }
  return next(url, context);
}

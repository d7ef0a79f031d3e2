import { register } from 'node:module';
register('./esm_loader.mjs', import.meta.url);

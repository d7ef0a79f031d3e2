import { startPage } from './qly.js';

startPage({ active: '/portal', requireLogin: false });

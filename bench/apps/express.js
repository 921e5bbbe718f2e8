// The Express bench app: a router, a JSON route and a middleware, served by every contender (warden
// loads the Express app; server.js listens with it).

import express from 'express';
import { count } from './stats.js';

const app = express();
app.use((req, res, next) => {
  count(req);
  res.setHeader('x-pid', String(process.pid));
  next();
});
app.get('/health', (req, res) => res.send('ok\n'));
app.get('/', (req, res) => res.json({ hello: 'world', pid: process.pid }));
export default app;

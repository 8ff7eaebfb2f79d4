// A deployed automation (a crew's own API) on a loopback port, for the
// kickoff tests: GET /inputs, POST /kickoff, GET /status/{id}, and GET /
// for health checks, behind its own bearer token, as deployed crews serve
// them. A run reports `running` on its first status read and `completed`
// (with its result) after, so the run page has progress to follow.

import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';

export async function startAutomation(token) {
  const runs = new Map();
  const seen = { authorizations: [], kickoffs: [] };
  const server = createServer((req, res) => {
    const send = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    seen.authorizations.push(req.headers.authorization);
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'bad token' });
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      if (req.method === 'GET' && url.pathname === '/') return send(200, { status: 'ok' });
      if (req.method === 'GET' && url.pathname === '/inputs') return send(200, { inputs: ['topic', 'audience'] });
      if (req.method === 'POST' && url.pathname === '/kickoff') {
        const id = randomUUID();
        const inputs = JSON.parse(body).inputs;
        seen.kickoffs.push(inputs);
        runs.set(id, { inputs, reads: 0 });
        return send(200, { kickoff_id: id });
      }
      const m = url.pathname.match(/^\/status\/([\w-]+)$/);
      if (req.method === 'GET' && m && runs.has(m[1])) {
        const run = runs.get(m[1]);
        run.reads += 1;
        if (run.reads < 2) return send(200, { state: 'running' });
        return send(200, { state: 'completed', result: `A report on ${run.inputs.topic} for ${run.inputs.audience}` });
      }
      send(404, { error: 'not found' });
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((ok) => server.close(ok)) };
}

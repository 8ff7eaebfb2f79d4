// Microsoft Graph stand-in: the one call Portcullis makes for Entra ID's group overage,
// in the response shape Microsoft documents for it:
//   GET /v1.0/users/{id | userPrincipalName}/transitiveMemberOf?$select=id[&$top=N][&$skiptoken=...]
//   -> 200 {"@odata.context": ..., "value": [{"@odata.type": "#microsoft.graph.group", "id": ...}, ...],
//           "@odata.nextLink": ...}            (at most 100 a page here, whatever $top asks)
// with an application token from the Entra ID layout's client credentials grant (aud
// https://graph.microsoft.com, `roles` holding GroupMember.Read.All). Errors are Graph's:
// 401 InvalidAuthenticationToken, 403 Authorization_RequestDenied, 404 Request_ResourceNotFound.
// https://learn.microsoft.com/graph/api/user-list-transitivememberof
import * as crypto from 'node:crypto';
import * as http from 'node:http';

export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
export const GRAPH_PERMISSION = 'GroupMember.Read.All';
const PAGE_MAX = 100;

// A stable GUID-shaped id from a name (the same in every run, so tests can name groups).
export function guid(name) {
  const h = crypto.createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
export const oidOf = (sub) => guid(`oid:${sub}`);
export const groupId = (n) => guid(`group:${n}`);

// Group memberships by login: alice is in group 1, dave in groups 1..250 (an overage).
export function groupsOf(sub) {
  if (sub === 'alice') return [groupId(1)];
  if (sub === 'dave') return Array.from({ length: 250 }, (_, i) => groupId(i + 1));
  return [];
}

// Listens on a free loopback port other than `avoid`: the relying party's port, which a
// test picked (and released) before starting this peer, and which the kernel may hand
// out again to a listener asking for port 0.
export async function listenFree(server, avoid) {
  for (;;) {
    await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    if (server.address().port !== avoid) return server.address().port;
    await new Promise((resolve) => server.close(resolve));
  }
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; odata.metadata=minimal; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
const graphError = (res, status, code, message) => send(res, status, { error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': crypto.randomUUID() } } });

// verify(token) -> the JWT payload when the Entra layout issued it and it is current.
export async function startGraph({ verify, accounts, avoidPort }) {
  let origin;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, origin);
    const match = /^\/v1\.0\/users\/([^/]+)\/transitiveMemberOf$/.exec(url.pathname);
    if (req.method !== 'GET' || !match) return graphError(res, 400, 'BadRequest', `Resource not found for the segment '${url.pathname}'.`);
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const at = bearer && verify(bearer);
    if (!at || at.aud !== GRAPH_RESOURCE) return graphError(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    if (!(at.roles ?? []).includes(GRAPH_PERMISSION)) return graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    const id = decodeURIComponent(match[1]);
    const sub = accounts.find((s) => oidOf(s) === id || `${s}@example.test` === id);
    if (!sub) return graphError(res, 404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
    const objects = groupsOf(sub).map((g) => ({ '@odata.type': '#microsoft.graph.group', id: g }));
    // A directory role membership comes back too (the caller keeps only groups).
    if (objects.length) objects.push({ '@odata.type': '#microsoft.graph.directoryRole', id: guid(`role:${sub}`) });
    const top = Math.min(Number.parseInt(url.searchParams.get('$top') ?? '100', 10) || 100, PAGE_MAX);
    const skip = Number.parseInt(Buffer.from(url.searchParams.get('$skiptoken') ?? '', 'base64url').toString() || '0', 10);
    const page = objects.slice(skip, skip + top);
    const body = { '@odata.context': `${GRAPH_RESOURCE}/v1.0/$metadata#directoryObjects(id)`, value: page };
    if (skip + top < objects.length) {
      const next = new URL(url.pathname, origin);
      next.searchParams.set('$select', 'id');
      next.searchParams.set('$top', String(top));
      next.searchParams.set('$skiptoken', Buffer.from(String(skip + top)).toString('base64url'));
      body['@odata.nextLink'] = next.toString();
    }
    return send(res, 200, body);
  });
  origin = `http://127.0.0.1:${await listenFree(server, avoidPort)}`;
  return origin;
}

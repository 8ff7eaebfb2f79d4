#!/usr/bin/env node
// Self-test for server.mjs: starts it against a stub relying party and drives every
// layout over plain HTTP exactly as a Rust test would (cookie jar, no auto redirects).
// Usage: node tests/idp/selftest.mjs   (exits 0 when everything passes; ~2-5 s)
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

let passed = 0;
let failed = 0;
function check(cond, what) {
  if (cond) passed += 1;
  else { failed += 1; console.error(`FAIL: ${what}`); }
}
const deadline = setTimeout(() => { console.error('FAIL: selftest timed out'); process.exit(1); }, 20000);

// Stub RP: records back-channel logout deliveries.
const logouts = [];
const rp = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    if (req.method === 'POST' && req.url.endsWith('/backchannel-logout')) logouts.push({ url: req.url, body });
    res.end('ok');
  });
});
rp.listen(0, '127.0.0.1');
await once(rp, 'listening');
const RP = `http://127.0.0.1:${rp.address().port}`;

const child = spawn(process.execPath, [fileURLToPath(new URL('./server.mjs', import.meta.url)), '--rp', RP], {
  stdio: ['pipe', 'pipe', 'inherit'],
  env: { ...process.env, IDP_ACCESS_TOKEN_TTL: '120' },
});
let stdout = '';
child.stdout.on('data', (c) => { stdout += c; });
while (!stdout.includes('\n')) {
  const [code] = await Promise.race([once(child.stdout, 'data'), once(child, 'exit')]);
  if (typeof code === 'number' || code === null) { console.error('FAIL: server exited early'); process.exit(1); }
}
const idps = JSON.parse(stdout.split('\n')[0]);

// One cookie jar for the whole host, like a browser: cookies ignore the port.
const jar = new Map();
async function req(url, { method = 'GET', form, headers = {}, auth } = {}) {
  const u = new URL(url);
  const cookies = [...jar.values()].filter((c) => u.pathname.startsWith(c.path)).map((c) => `${c.name}=${c.value}`);
  const h = { ...headers };
  if (cookies.length) h.cookie = cookies.join('; ');
  if (auth) h.authorization = auth;
  let body;
  if (form) { body = new URLSearchParams(form).toString(); h['content-type'] = 'application/x-www-form-urlencoded'; }
  const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
  for (const sc of res.headers.getSetCookie()) {
    const [pair, ...attrs] = sc.split(';').map((s) => s.trim());
    const name = pair.slice(0, pair.indexOf('='));
    const value = pair.slice(pair.indexOf('=') + 1);
    const path = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
    const expired = attrs.some((a) => /^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now());
    if (expired || !value) jar.delete(`${name}|${path}`);
    else jar.set(`${name}|${path}`, { name, value, path });
  }
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, location: res.headers.get('location'), text, json, headers: res.headers };
}

const b64 = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());
async function verifyJwt(token, jwksUri) {
  const [h, p, s] = token.split('.');
  const header = b64(h);
  const { json: jwks } = await req(jwksUri);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return { header, payload: b64(p), valid: false };
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const valid = crypto.verify('sha256', Buffer.from(`${h}.${p}`),
    header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(s, 'base64url'));
  return { header, payload: b64(p), valid };
}
const hidden = (html, name) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

const T = '11111111-2222-3333-4444-555555555555';
const EXPECT = {
  okta: {
    disc: '/oauth2/default/.well-known/openid-configuration', web: 'okta-web', secret: 'okta-secret', cli: 'okta-cli', aud: 'api://default',
    ep: { authorization_endpoint: '/oauth2/default/v1/authorize', token_endpoint: '/oauth2/default/v1/token', userinfo_endpoint: '/oauth2/default/v1/userinfo', jwks_uri: '/oauth2/default/v1/keys', end_session_endpoint: '/oauth2/default/v1/logout', device_authorization_endpoint: '/oauth2/default/v1/device/authorize', revocation_endpoint: '/oauth2/default/v1/revoke' },
    roles: (c) => c.groups, idTokenClaims: false,
  },
  keycloak: {
    disc: '/realms/factory/.well-known/openid-configuration', web: 'keycloak-web', secret: 'keycloak-secret', cli: 'keycloak-cli', aud: 'account',
    ep: Object.fromEntries(Object.entries({ authorization_endpoint: 'auth', token_endpoint: 'token', userinfo_endpoint: 'userinfo', jwks_uri: 'certs', end_session_endpoint: 'logout', device_authorization_endpoint: 'auth/device', revocation_endpoint: 'revoke' }).map(([k, v]) => [k, `/realms/factory/protocol/openid-connect/${v}`])),
    roles: (c) => (c.realm_access?.roles && c.resource_access?.['keycloak-web']?.roles ? c.realm_access.roles : undefined), idTokenClaims: true, alg: 'ES256',
  },
  entra_id: {
    disc: `/${T}/v2.0/.well-known/openid-configuration`, web: 'entra-web', secret: 'entra-secret', cli: 'entra-cli', aud: 'api://portcullis-cli',
    ep: { authorization_endpoint: `/${T}/oauth2/v2.0/authorize`, token_endpoint: `/${T}/oauth2/v2.0/token`, device_authorization_endpoint: `/${T}/oauth2/v2.0/devicecode`, end_session_endpoint: `/${T}/oauth2/v2.0/logout`, jwks_uri: `/${T}/discovery/v2.0/keys`, userinfo_endpoint: `/${T}/openid/userinfo` },
    roles: (c) => c.roles, idTokenClaims: true,
  },
  auth0: {
    disc: '/.well-known/openid-configuration', web: 'auth0-web', secret: 'auth0-secret', cli: 'auth0-cli', aud: 'https://portcullis.example/api', post: true,
    ep: { authorization_endpoint: '/authorize', token_endpoint: '/oauth/token', userinfo_endpoint: '/userinfo', jwks_uri: '/.well-known/jwks.json', end_session_endpoint: '/oidc/logout', device_authorization_endpoint: '/oauth/device/code', revocation_endpoint: '/oauth/revoke' },
    roles: (c) => c['https://portcullis/roles'], idTokenClaims: false,
  },
  workos: {
    disc: '/.well-known/openid-configuration', web: 'workos-client', cli: 'workos-client', aud: 'workos-client',
    ep: { authorization_endpoint: '/oauth2/authorize', token_endpoint: '/oauth2/token', userinfo_endpoint: '/oauth2/userinfo', jwks_uri: '/oauth2/jwks', device_authorization_endpoint: '/oauth2/device_authorization', revocation_endpoint: '/oauth2/revoke' },
    roles: (c) => (c.role ? [c.role] : undefined), idTokenClaims: false,
  },
};
// How each vendor's access tokens look: the header's typ, the claim naming
// the client, and whether the e-mail address is in them (not at Okta and
// Auth0 by default: provisioning asks userinfo).
const VENDOR_TOKENS = {
  okta: { typ: 'JWT', client: 'cid', email: false },
  keycloak: { typ: 'JWT', client: 'azp', email: true },
  entra_id: { typ: 'JWT', client: 'azp', email: true },
  auth0: { typ: 'at+jwt', client: 'azp', email: false },
  workos: { typ: 'at+jwt', client: 'client_id', email: true },
};
const EXPECT_ROLES = { alice: ['member', 'factory-admin'], bob: ['member'], carol: undefined };
const rolesOk = (name, login, got) => (name === 'workos'
  ? got?.[0] === { alice: 'factory-admin', bob: 'member' }[login]
  : JSON.stringify(got) === JSON.stringify(EXPECT_ROLES[login]));

// Client authentication: basic, or client_secret_post for layouts marked post.
function clientAuth(e, form) {
  if (!e.secret) return { form: { ...form, client_id: e.web } };
  if (e.post) return { form: { ...form, client_id: e.web, client_secret: e.secret } };
  return { form, auth: `Basic ${Buffer.from(`${e.web}:${e.secret}`).toString('base64')}` };
}

// Follow redirects by hand, logging in at the interaction. Returns the final Location on the RP.
let logins = 0;
async function browse(url, login, { abort = false } = {}) {
  let res = await req(url);
  for (let hops = 0; hops < 12; hops += 1) {
    if (res.status === 303 || res.status === 302) {
      if (res.location.startsWith(RP)) return res.location;
      const next = new URL(res.location, url).href;
      if (abort && next.includes('/interaction/')) { res = await req(`${next}/abort`); continue; }
      res = await req(next);
      continue;
    }
    const action = /action="(\/interaction\/[^"]+\/login)"/.exec(res.text)?.[1];
    if (res.status === 200 && action) {
      const bad = await req(new URL(action, url).href, { method: 'POST', form: { login: 'mallory', password: 'x' } });
      check(bad.status === 401, 'unknown login answers 401');
      res = await req(new URL(action, url).href, { method: 'POST', form: { login, password: 'anything' } });
      logins += 1;
      continue;
    }
    return res;
  }
  throw new Error('too many redirects');
}

async function codeFlow(name, login, { clear = true, expectLogin = true, scope = 'openid email profile offline_access' } = {}) {
  const offline = scope.includes('offline_access');
  if (clear) jar.clear(); // a new browser, so no single sign-on from earlier flows
  const e = EXPECT[name];
  const { issuer, port } = idps[name];
  const origin = `http://127.0.0.1:${port}`;
  const { json: d } = await req(origin + e.disc);
  check(d.issuer === issuer, `${name} discovery issuer ${d.issuer}`);
  for (const [k, v] of Object.entries(e.ep)) check(d[k] === origin + v, `${name} ${k} = ${d[k]}`);
  check(JSON.stringify(d.code_challenge_methods_supported) === '["S256"]', `${name} S256 only`);
  check(d.authorization_response_iss_parameter_supported === true && d.backchannel_logout_supported === true, `${name} iss/backchannel supported`);

  const verifier = crypto.randomBytes(32).toString('base64url');
  const state = crypto.randomBytes(8).toString('hex');
  const nonce = crypto.randomBytes(8).toString('hex');
  const redirectUri = `${RP}/auth/${name}/callback`;
  const authz = new URL(d.authorization_endpoint);
  authz.search = new URLSearchParams({
    client_id: e.web, response_type: 'code', redirect_uri: redirectUri, scope,
    state, nonce, code_challenge: crypto.hash('sha256', verifier, 'base64url'), code_challenge_method: 'S256',
  });
  const before = logins;
  const cb = new URL(await browse(authz.href, login));
  check(logins === before + (expectLogin ? 1 : 0), `${name} login ${expectLogin ? 'asked' : 'skipped (SSO)'}`);
  check(cb.origin + cb.pathname === redirectUri, `${name} callback ${cb.pathname}`);
  check(cb.searchParams.get('state') === state && cb.searchParams.get('iss') === issuer && cb.searchParams.get('code'), `${name} callback has code/state/iss`);

  const a = clientAuth(e, { grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: redirectUri, code_verifier: verifier });
  const tok = await req(d.token_endpoint, { method: 'POST', ...a });
  check(tok.status === 200 && tok.json.id_token && !!tok.json.refresh_token === offline, `${name} token response ${tok.text.slice(0, 200)}`);
  const id = await verifyJwt(tok.json.id_token, d.jwks_uri);
  check(id.valid && id.header.alg === (e.alg ?? 'RS256'), `${name} id_token signature ${id.header.alg}`);
  const c = id.payload;
  check(c.iss === issuer && c.aud === e.web && c.sub === login && c.nonce === nonce && c.sid, `${name} id_token iss/aud/sub/nonce/sid`);
  if (e.idTokenClaims) {
    check(c.email === `${login}@example.test` && c.name && rolesOk(name, login, e.roles(c)), `${name} id_token carries email/name/roles ${JSON.stringify(c)}`);
  } else {
    check(c.email === undefined && e.roles(c) === undefined, `${name} id_token has no email/roles ${JSON.stringify(c)}`);
  }
  const at = await verifyJwt(tok.json.access_token, d.jwks_uri);
  check(at.valid && at.header.typ === VENDOR_TOKENS[name].typ && at.payload.aud === e.aud && at.payload.iss === issuer, `${name} JWT access token typ ${at.header.typ} aud ${at.payload.aud}`);
  check(at.payload[VENDOR_TOKENS[name].client] === e.web && (name === 'workos' || at.payload.client_id === undefined), `${name} access token names its client in ${VENDOR_TOKENS[name].client}`);
  const wantEmail = VENDOR_TOKENS[name].email ? `${login}@example.test` : undefined;
  check(at.payload.email === wantEmail && rolesOk(name, login, e.roles(at.payload)), `${name} access token email/roles ${JSON.stringify(at.payload)}`);
  check(at.payload.exp - at.payload.iat === 120, `${name} access token ttl from IDP_ACCESS_TOKEN_TTL`);

  const ui = await req(d.userinfo_endpoint, { auth: `Bearer ${tok.json.access_token}` });
  check(ui.status === 200 && ui.json.sub === login && ui.json.email === `${login}@example.test` && rolesOk(name, login, e.roles(ui.json)), `${name} userinfo ${ui.text}`);

  if (!offline) return { d, e, tokens: tok.json, idToken: tok.json.id_token };
  const rt = await req(d.token_endpoint, { method: 'POST', ...clientAuth(e, { grant_type: 'refresh_token', refresh_token: tok.json.refresh_token }) });
  check(rt.status === 200 && rt.json.access_token && b64(rt.json.access_token.split('.')[1]).aud === e.aud, `${name} refresh ${rt.text.slice(0, 200)}`);
  return { d, e, tokens: rt.json, idToken: tok.json.id_token };
}

async function deviceFlow(name) {
  const e = EXPECT[name];
  jar.clear();
  const { json: d } = await req(`http://127.0.0.1:${idps[name].port}${e.disc}`);
  const da = await req(d.device_authorization_endpoint, { method: 'POST', form: { client_id: e.cli, scope: 'openid profile email offline_access' } });
  check(da.status === 200 && da.json.user_code && da.json.verification_uri && da.json.interval === 1, `${name} device authorization ${da.text}`);
  const poll = () => req(d.token_endpoint, { method: 'POST', form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: da.json.device_code, client_id: e.cli } });
  check((await poll()).json?.error === 'authorization_pending', `${name} device pending`);

  // The documented way to approve: GET the page, read xsrf, POST user_code, POST confirm, log in.
  const page = await req(da.json.verification_uri);
  const xsrf = hidden(page.text, 'xsrf');
  const action = /<form[^>]*action="([^"]+)"/.exec(page.text)[1];
  const confirmPage = await req(action, { method: 'POST', form: { xsrf, user_code: da.json.user_code } });
  check(confirmPage.status === 200 && hidden(confirmPage.text, 'confirm') === 'yes', `${name} device confirm page`);
  const done = await req(action, { method: 'POST', form: { xsrf: hidden(confirmPage.text, 'xsrf'), user_code: da.json.user_code, confirm: 'yes' } });
  const success = await browse(new URL(done.location, action).href, 'bob');
  check(success.status === 200 && /Sign-in Success/.test(success.text), `${name} device success page`);

  const tok = await poll();
  check(tok.status === 200 && tok.json.access_token && tok.json.refresh_token && tok.json.id_token, `${name} device token ${tok.text.slice(0, 200)}`);
  const at = b64(tok.json.access_token.split('.')[1]);
  check(at.aud === e.aud && at.sub === 'bob' && at[VENDOR_TOKENS[name].client] === e.cli, `${name} device access token ${JSON.stringify(at)}`);
  const rt = await req(d.token_endpoint, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: tok.json.refresh_token, client_id: e.cli } });
  check(rt.status === 200 && rt.json.access_token && rt.json.refresh_token, `${name} device refresh ${rt.text.slice(0, 200)}`);
}

try {
  // alice at every layout in one browser: each layout must ask her to log in (the layouts
  // share the host 127.0.0.1, so this checks their sessions do not leak into each other) ...
  jar.clear();
  for (const name of Object.keys(EXPECT)) await codeFlow(name, 'alice', { clear: false });
  // ... while a second visit to the same layout is single sign-on.
  await codeFlow('okta', 'alice', { clear: false, expectLogin: false });
  await codeFlow('workos', 'bob');
  const carol = await codeFlow('okta', 'carol');

  // Revoking the JWT access token makes userinfo refuse it; revoking the refresh token kills refresh.
  const { d, e, tokens } = carol;
  const rv = await req(d.revocation_endpoint, { method: 'POST', ...clientAuth(e, { token: tokens.access_token }) });
  check(rv.status === 200, `revoke access token ${rv.status} ${rv.text}`);
  check((await req(d.userinfo_endpoint, { auth: `Bearer ${tokens.access_token}` })).status === 401, 'userinfo refuses revoked token');

  for (const name of Object.keys(EXPECT)) await deviceFlow(name);

  // PKCE is required for every client; a wrong client secret is refused.
  const np = new URL(d.authorization_endpoint);
  np.search = new URLSearchParams({ client_id: 'okta-web', response_type: 'code', redirect_uri: `${RP}/auth/okta/callback`, scope: 'openid', state: 's' });
  const npr = await req(np.href);
  check(npr.status === 303 && new URL(npr.location).searchParams.get('error') === 'invalid_request', `PKCE required ${npr.location}`);
  const bad = await req(d.token_endpoint, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'okta-web', client_secret: 'wrong' } });
  check(bad.status === 401 && bad.json.error === 'invalid_client', `wrong secret ${bad.text}`);

  // Abort at the login page: back at the RP with error=access_denied.
  const ab = new URL(d.authorization_endpoint);
  ab.search = new URLSearchParams({ client_id: 'okta-web', response_type: 'code', redirect_uri: `${RP}/auth/okta/callback`, scope: 'openid', state: 's', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', prompt: 'login' });
  const aborted = new URL(await browse(ab.href, 'alice', { abort: true }));
  check(aborted.searchParams.get('error') === 'access_denied', `abort -> ${aborted}`);

  // RP-initiated logout for keycloak (fresh login), confirm form, back-channel logout delivery.
  // Portcullis's own scopes (no offline_access): no refresh token, and logout revokes the grant.
  const kc = await codeFlow('keycloak', 'bob', { scope: 'openid email profile' });
  const lo = new URL(kc.d.end_session_endpoint);
  lo.search = new URLSearchParams({ id_token_hint: kc.idToken, post_logout_redirect_uri: `${RP}/auth/logged-out`, state: 'bye' });
  const page = await req(lo.href);
  const action = /<form[^>]*action="([^"]+)"/.exec(page.text)?.[1];
  const out = await req(new URL(action, lo).href, { method: 'POST', form: { xsrf: hidden(page.text, 'xsrf'), logout: 'yes' } });
  check(out.status === 303 && out.location === `${RP}/auth/logged-out?state=bye`, `logout redirect ${out.status} ${out.location}`);
  await new Promise((r) => setTimeout(r, 300));
  const bcl = logouts.find((l) => l.url === '/auth/keycloak/backchannel-logout');
  const lt = bcl && b64(new URLSearchParams(bcl.body).get('logout_token').split('.')[1]);
  check(lt?.sub === 'bob' && lt?.sid && lt?.aud === 'keycloak-web', `back-channel logout token ${JSON.stringify(lt)}`);
  const after = await req(kc.d.userinfo_endpoint, { auth: `Bearer ${kc.tokens.access_token}` });
  check(after.status === 401, `userinfo after logout ${after.status}`);
} catch (err) {
  failed += 1;
  console.error(`FAIL: ${err.stack}`);
}

// Closing stdin must stop the server.
child.stdin.end();
const exited = await Promise.race([once(child, 'exit').then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
check(exited, 'server exits when stdin closes');
if (!exited) child.kill('SIGTERM');
rp.close();
clearTimeout(deadline);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

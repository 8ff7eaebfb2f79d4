#!/usr/bin/env node
// OpenID provider test peer for Portcullis end-to-end tests.
//
// One process, five identity-provider URL layouts (Okta, Keycloak, Entra ID, Auth0,
// WorkOS), each a separate oidc-provider instance on its own 127.0.0.1 listener.
// Usage: node tests/idp/server.mjs --rp http://127.0.0.1:PORT [--no-stdin-watch]
// Prints exactly one JSON line on stdout once every listener is up; logs go to stderr.
// See README.md for the endpoints, accounts and how a test drives login/device pages.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

// stdout is a protocol channel (one JSON line). oidc-provider prints its NOTICEs with
// console.info, so route every console method to stderr before loading it.
console.log = console.info = console.debug = console.error;
const { default: Provider, errors } = await import('oidc-provider');
const { GRAPH_RESOURCE, GRAPH_PERMISSION, groupsOf, listenFree, oidOf, startGraph } = await import('./graph.mjs');

const argv = process.argv.slice(2);
const argValue = (name) => {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i === -1) return undefined;
  return argv[i].includes('=') ? argv[i].slice(name.length + 1) : argv[i + 1];
};
const RP = argValue('--rp')?.replace(/\/+$/, '');
if (!RP || !URL.canParse(RP)) {
  console.error('usage: node server.mjs --rp http://127.0.0.1:PORT [--no-stdin-watch]');
  process.exit(2);
}
// The relying party's port: no listener of ours may take it (see listenFree).
const RP_PORT = Number(new URL(RP).port || (RP.startsWith('https:') ? 443 : 80));
// --tls-cert/--tls-key: serve every layout over https with this certificate
// (a test's own CA signs it, to test IdPs behind a private CA).
const TLS = argValue('--tls-cert') ? { cert: fs.readFileSync(argValue('--tls-cert')), key: fs.readFileSync(argValue('--tls-key')) } : null;
const ACCESS_TOKEN_TTL = Number.parseInt(process.env.IDP_ACCESS_TOKEN_TTL ?? '300', 10);
const DEVICE_INTERVAL = Number.parseInt(process.env.IDP_DEVICE_INTERVAL ?? '1', 10);
const DEBUG = Boolean(process.env.IDP_DEBUG);
const TENANT = '11111111-2222-3333-4444-555555555555';

// Any password is accepted; sub is the login name. carol has no roles: the role claim is omitted.
// dave is in 250 Entra ID groups: more than a token holds (group overage, see graph.mjs).
const ACCOUNTS = {
  alice: { email: 'alice@example.test', name: 'Alice Admin', roles: ['member', 'factory-admin'] },
  bob: { email: 'bob@example.test', name: 'Bob Member', roles: ['member'] },
  carol: { email: 'carol@example.test', name: 'Carol Nobody', roles: [] },
  dave: { email: 'dave@example.test', name: 'Dave Many-Groups', roles: ['member'] },
};

// Entra ID's `groups` claim: the groups' object ids, or above 200 of them the
// distributed claim that points at Graph instead (OpenID Connect Core 5.6.2).
function entraGroupClaims(sub) {
  const groups = groupsOf(sub);
  if (groups.length > 200) {
    return {
      _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: `https://graph.windows.net/${TENANT}/users/${oidOf(sub)}/getMemberObjects` } },
    };
  }
  return groups.length ? { groups } : {};
}

// Each layout: where the issuer lives, where oidc-provider is mounted (the common path
// prefix of its endpoints), the endpoint routes relative to that mount, the access
// token audience, and how the vendor spells roles.
//  idTokenClaims: true  -> email/name/roles are in the ID token (and in userinfo);
//                 false -> the ID token carries only sub (+ protocol claims), the RP must
//                          call userinfo for email/name/roles.
const LAYOUTS = [
  {
    name: 'okta',
    issuerPath: '/oauth2/default',
    mount: '/oauth2/default',
    routes: {
      authorization: '/v1/authorize', token: '/v1/token', userinfo: '/v1/userinfo', jwks: '/v1/keys',
      end_session: '/v1/logout', device_authorization: '/v1/device/authorize', revocation: '/v1/revoke',
      code_verification: '/activate',
    },
    web: { client_id: 'okta-web', client_secret: 'okta-secret' },
    cli: 'okta-cli',
    audience: 'api://default',
    clientClaim: 'cid', accessTokenTyp: 'JWT', accessTokenEmail: false,
    idTokenClaims: false,
    roleClaimNames: ['groups'],
    roleClaims: (roles) => ({ groups: roles }),
  },
  {
    name: 'keycloak',
    issuerPath: '/realms/factory',
    mount: '/realms/factory',
    routes: {
      authorization: '/protocol/openid-connect/auth', token: '/protocol/openid-connect/token',
      userinfo: '/protocol/openid-connect/userinfo', jwks: '/protocol/openid-connect/certs',
      end_session: '/protocol/openid-connect/logout', device_authorization: '/protocol/openid-connect/auth/device',
      revocation: '/protocol/openid-connect/revoke', code_verification: '/device',
    },
    web: { client_id: 'keycloak-web', client_secret: 'keycloak-secret', id_token_signed_response_alg: 'ES256' },
    cli: 'keycloak-cli',
    audience: 'account',
    clientClaim: 'azp', accessTokenTyp: 'JWT', accessTokenEmail: true, typClaims: true,
    idTokenClaims: true,
    roleClaimNames: ['realm_access', 'resource_access'],
    roleClaims: (roles) => ({ realm_access: { roles }, resource_access: { 'keycloak-web': { roles } } }),
  },
  {
    name: 'entra_id',
    issuerPath: `/${TENANT}/v2.0`,
    // Endpoints live under /<tenant>/..., the issuer under /<tenant>/v2.0 (as at Microsoft),
    // so the provider is mounted at /<tenant> and the discovery URL is rewritten onto it.
    mount: `/${TENANT}`,
    rewrites: { [`/${TENANT}/v2.0/.well-known/openid-configuration`]: `/${TENANT}/.well-known/openid-configuration` },
    routes: {
      authorization: '/oauth2/v2.0/authorize', token: '/oauth2/v2.0/token', userinfo: '/openid/userinfo',
      jwks: '/discovery/v2.0/keys', end_session: '/oauth2/v2.0/logout', device_authorization: '/oauth2/v2.0/devicecode',
      revocation: '/oauth2/v2.0/revoke', code_verification: '/devicelogin',
    },
    web: { client_id: 'entra-web', client_secret: 'entra-secret' },
    cli: 'entra-cli',
    audience: 'api://portcullis-cli',
    clientClaim: 'azp', accessTokenTyp: 'JWT', accessTokenEmail: true,
    idTokenClaims: true,
    roleClaimNames: ['roles', 'tid', 'oid', 'groups'],
    roleClaims: (roles) => ({ roles }),
    extraClaims: (sub) => ({ tid: TENANT, oid: oidOf(sub), ...entraGroupClaims(sub) }),
    tenant: TENANT,
  },
  {
    name: 'auth0',
    issuerPath: '/', // Auth0 issuers end with a slash
    mount: '',
    routes: {
      authorization: '/authorize', token: '/oauth/token', userinfo: '/userinfo', jwks: '/.well-known/jwks.json',
      end_session: '/oidc/logout', device_authorization: '/oauth/device/code', revocation: '/oauth/revoke',
      code_verification: '/activate',
    },
    web: { client_id: 'auth0-web', client_secret: 'auth0-secret' },
    cli: 'auth0-cli',
    audience: 'https://portcullis.example/api',
    clientClaim: 'azp', accessTokenTyp: 'at+jwt', accessTokenEmail: false,
    idTokenClaims: false,
    roleClaimNames: ['https://portcullis/roles'],
    roleClaims: (roles) => ({ 'https://portcullis/roles': roles }),
  },
  {
    name: 'workos',
    issuerPath: '', // no trailing slash
    mount: '',
    routes: {
      authorization: '/oauth2/authorize', token: '/oauth2/token', userinfo: '/oauth2/userinfo', jwks: '/oauth2/jwks',
      end_session: '/oauth2/logout', device_authorization: '/oauth2/device_authorization', revocation: '/oauth2/revoke',
      code_verification: '/device',
    },
    // One public client for both the browser (auth code + PKCE) and the CLI (device grant).
    web: { client_id: 'workos-client', token_endpoint_auth_method: 'none' },
    cli: null,
    audience: 'workos-client',
    clientClaim: 'client_id', accessTokenTyp: 'at+jwt', accessTokenEmail: true,
    idTokenClaims: false,
    roleClaimNames: ['role'],
    // WorkOS has a single role per organization membership: the most privileged one.
    roleClaims: (roles) => ({ role: roles.includes('factory-admin') ? 'factory-admin' : roles[0] }),
  },
];

// Claims for one account as the layout spells them. Roles are tied to the openid scope
// so the RP needs no vendor-specific scope to receive them.
function accountClaims(layout, sub, scopes) {
  const account = ACCOUNTS[sub];
  const extra = typeof layout.extraClaims === 'function' ? layout.extraClaims(sub) : layout.extraClaims;
  const out = { sub, ...extra, ...(account.roles.length ? layout.roleClaims(account.roles) : {}) };
  if (scopes.has('email')) Object.assign(out, { email: account.email, email_verified: true });
  if (scopes.has('profile')) Object.assign(out, { name: account.name, preferred_username: sub });
  return out;
}

function clientsFor(layout) {
  const web = {
    redirect_uris: [`${RP}/auth/${layout.name}/callback`],
    post_logout_redirect_uris: [`${RP}/auth/logged-out`],
    backchannel_logout_uri: `${RP}/auth/${layout.name}/backchannel-logout`,
    backchannel_logout_session_required: true,
    // client_credentials: Entra ID apps list group overage from Graph with it.
    grant_types: ['authorization_code', 'refresh_token', ...(layout.name === 'entra_id' ? ['client_credentials'] : [])],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic', // client_secret_post is converted, see normalizeTokenRequest
    ...layout.web,
  };
  const deviceGrant = 'urn:ietf:params:oauth:grant-type:device_code';
  const publicDevice = (client_id) => ({
    client_id,
    token_endpoint_auth_method: 'none',
    grant_types: [deviceGrant, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  });
  // Another application of the same realm/tenant: its tokens carry the same
  // issuer and API audience, but name their own client.
  const other = publicDevice(`${layout.name}-other`);
  if (!layout.cli) return [{ ...web, grant_types: [...web.grant_types, deviceGrant] }, other];
  return [web, publicDevice(layout.cli), other];
}

// A fresh RSA (RS256: ID tokens, access tokens) and P-256 (ES256: keycloak-web ID tokens)
// key per layout, so an RP that verifies against the wrong JWKS fails.
async function makeKeys(layout) {
  const gen = (type, opts) => new Promise((resolve, reject) => {
    crypto.generateKeyPair(type, opts, (err, _pub, priv) => (err ? reject(err) : resolve(priv)));
  });
  const [rsa, ec] = await Promise.all([gen('rsa', { modulusLength: 2048 }), gen('ec', { namedCurve: 'P-256' })]);
  const suffix = crypto.randomBytes(4).toString('hex');
  const keys = [
    { ...rsa.export({ format: 'jwk' }), kid: `${layout.name}-rs256-${suffix}`, use: 'sig', alg: 'RS256' },
    { ...ec.export({ format: 'jwk' }), kid: `${layout.name}-es256-${suffix}`, use: 'sig', alg: 'ES256' },
  ];
  // Public keys by kid for our own access-token check in the userinfo handler.
  layout.publicKeys = new Map(keys.map((k) => [k.kid, crypto.createPublicKey({ key: k, format: 'jwk' })]));
  return keys;
}

function configure(layout, keys) {
  const resource = layout.audience.includes(':') ? layout.audience : `urn:portcullis-test-idp:${layout.name}`;
  layout.resource = resource; // resource indicators must be absolute URIs; 'account' is not
  return {
    clients: clientsFor(layout),
    jwks: { keys },
    findAccount: (ctx, sub) => (ACCOUNTS[sub] ? {
      accountId: sub,
      async claims(use, scope) {
        if (use === 'id_token' && !layout.idTokenClaims) return { sub };
        return accountClaims(layout, sub, new Set(String(scope ?? '').split(' ')));
      },
    } : undefined),
    claims: {
      acr: null, sid: null, auth_time: null, iss: null,
      openid: ['sub', ...layout.roleClaimNames],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    responseTypes: ['code'], // authorization code flow only: no implicit/hybrid in discovery
    // Documents intent only: oidc-provider ignores this when the access token has an
    // audience (it assumes such a token cannot call userinfo), so findAccount() above
    // enforces the ID-token-vs-userinfo split itself.
    conformIdTokenClaims: !layout.idTokenClaims,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    // All listeners share the host 127.0.0.1 and cookies ignore the port, so every layout
    // needs its own cookie names or their sessions would clobber each other.
    cookies: {
      names: { session: `_${layout.name}_session`, interaction: `_${layout.name}_interaction`, resume: `_${layout.name}_resume` },
      keys: [crypto.randomBytes(32).toString('base64url')],
    },
    pkce: { required: () => true }, // S256 is the only method oidc-provider 9 supports
    routes: layout.routes,
    interactions: { url: (ctx, interaction) => `${layout.origin}/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: false }, // not part of the vendor layouts below
      deviceFlow: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Every token request gets this layout's API as audience unless it asks otherwise.
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, indicator) {
          if (layout.name === 'entra_id' && indicator === GRAPH_RESOURCE) {
            // Microsoft Graph's application permission, as app tokens carry it in `roles`.
            return { scope: GRAPH_PERMISSION, audience: GRAPH_RESOURCE, accessTokenTTL: ACCESS_TOKEN_TTL, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
          }
          if (indicator !== resource) throw new errors.InvalidTarget();
          return {
            // OIDC scopes are also API scopes here, so the JWT access token carries
            // "openid ..." and is accepted by our userinfo endpoint, as at the vendors.
            scope: 'openid email profile offline_access',
            audience: layout.audience,
            accessTokenTTL: ACCESS_TOKEN_TTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // JWT access tokens carry email and the same role claim(s) as the ID token.
    async extraTokenClaims(ctx, token) {
      if (token.kind === 'ClientCredentials') {
        // Entra ID app tokens name the consented application permissions in `roles`.
        return { roles: String(token.scope ?? '').split(' ').filter(Boolean), idtyp: 'app', ...(layout.tenant ? { tid: layout.tenant } : {}) };
      }
      if (token.kind !== 'AccessToken' || !ACCOUNTS[token.accountId]) return undefined;
      const withEmail = layout.accessTokenEmail && process.env.IDP_ACCESS_TOKEN_EMAIL !== '0';
      const { sub, ...rest } = accountClaims(layout, token.accountId, new Set(withEmail ? ['email'] : []));
      delete rest.email_verified;
      return layout.typClaims ? { ...rest, typ: 'Bearer' } : rest;
    },
    // Each vendor names the token's client in its own claim (Okta `cid`,
    // Keycloak/Entra/Auth0 `azp`, WorkOS `client_id` as RFC 9068) and most
    // type their access tokens `JWT`, not `at+jwt`.
    formats: {
      customizers: {
        async jwt(ctx, token, jwt) {
          const clientId = jwt.payload.client_id;
          delete jwt.payload.client_id;
          jwt.payload[layout.clientClaim] = clientId;
          jwt.header = { typ: layout.accessTokenTyp };
        },
      },
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 86400,
      DeviceCode: 600, Interaction: 3600, Session: 86400, Grant: 86400,
    },
    // oidc-provider refuses outgoing requests to loopback (SSRF guard); the RP under test
    // is on 127.0.0.1, so drop that guard for back-channel logout deliveries.
    fetch: (url, options) => {
      delete options.dispatcher;
      return globalThis.fetch(url, options);
    },
  };
}

// ---------------------------------------------------------------- HTTP plumbing

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) reject(new Error('request body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = {}) {
  const isJson = typeof body !== 'string';
  res.writeHead(status, {
    'content-type': isJson ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(isJson ? JSON.stringify(body) : body);
}

const b64json = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

// JWT access tokens are stateless in oidc-provider, so we remember which grant each one
// came from and which tokens/grants were revoked (revocation endpoint, logout, refresh token
// revocation), and userinfo refuses those, as the vendors do.
function trackRevocations(layout) {
  layout.grantOf = new Map();
  layout.revoked = new Set();
  layout.provider.on('access_token.issued', (token) => layout.grantOf.set(token.jti, token.grantId));
  layout.provider.on('grant.revoked', (ctx, grantId) => layout.revoked.add(grantId));
}
const isRevoked = (layout, jti) => layout.revoked.has(jti) || layout.revoked.has(layout.grantOf.get(jti));

// Verifies a JWT access token issued by this layout; returns its payload or undefined.
function verifyAccessToken(layout, token) {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = b64json(parts[0]);
    const payload = b64json(parts[1]);
    const key = layout.publicKeys.get(header.kid);
    if (!key || header.alg !== 'RS256') return undefined;
    const ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2], 'base64url'));
    if (!ok || payload.iss !== layout.issuer || !(payload.exp > Date.now() / 1000)) return undefined;
    return payload;
  } catch {
    return undefined;
  }
}

// Userinfo is served here rather than by oidc-provider, whose userinfo endpoint refuses
// access tokens that have an audience (and cannot look up JWT-format ones). The vendors
// all accept their API access tokens at userinfo, so we do too.
async function userinfo(layout, req, res) {
  const fail = (status, error, description) => send(res, status, { error, error_description: description }, {
    'www-authenticate': `Bearer error="${error}", error_description="${description}"`,
  });
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!match) return fail(401, 'invalid_token', 'no bearer access token');
  const at = verifyAccessToken(layout, match[1]);
  if (!at) return fail(401, 'invalid_token', 'access token invalid or expired');
  if (isRevoked(layout, at.jti)) return fail(401, 'invalid_token', 'access token revoked');
  const scopes = new Set(String(at.scope ?? '').split(' '));
  if (!scopes.has('openid')) return fail(403, 'insufficient_scope', 'access token missing openid scope');
  if (!ACCOUNTS[at.sub]) return fail(401, 'invalid_token', 'unknown subject');
  return send(res, 200, accountClaims(layout, at.sub, scopes));
}

// Token and revocation requests: oidc-provider allows one auth method per client, so a
// client_secret_post request is turned into client_secret_basic (both work for the RP).
// oidc-provider refuses to revoke JWT access tokens (Okta & co. accept them): we pass it the
// jti instead, so it still authenticates the client and answers (200, token unknown to it),
// and on that 200 we mark the token revoked if it belongs to that client.
async function normalizeTokenRequest(layout, req, res, isRevocation) {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return;
  const form = new URLSearchParams(await readBody(req));
  if (form.has('client_secret') && !req.headers.authorization) {
    const enc = (v) => encodeURIComponent(v ?? '');
    const basic = Buffer.from(`${enc(form.get('client_id'))}:${enc(form.get('client_secret'))}`).toString('base64');
    req.headers.authorization = `Basic ${basic}`;
    form.delete('client_id');
    form.delete('client_secret');
  }
  const at = isRevocation && verifyAccessToken(layout, form.get('token') ?? '');
  if (at) {
    form.set('token', at.jti);
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const clientId = basic
      ? decodeURIComponent(Buffer.from(basic, 'base64').toString().split(':')[0])
      : form.get('client_id');
    res.on('finish', () => {
      if (res.statusCode === 200 && clientId === at[layout.clientClaim]) layout.revoked.add(at.jti);
    });
  }
  // Entra ID's v2.0 `.default` scope names a resource (`<graph>/.default`): give it to
  // oidc-provider as an RFC 8707 resource indicator, with the application permission the
  // app was granted (none with IDP_GRAPH_PERMISSION=0: the admin never consented).
  if (layout.name === 'entra_id' && form.get('grant_type') === 'client_credentials') {
    const scope = form.get('scope') ?? '';
    if (scope === `${layout.graphOrigin}/.default` || scope === `${GRAPH_RESOURCE}/.default`) {
      form.set('resource', GRAPH_RESOURCE);
      form.set('scope', process.env.IDP_GRAPH_PERMISSION === '0' ? '' : GRAPH_PERMISSION);
    } else {
      send(res, 400, { error: 'invalid_scope', error_description: `AADSTS70011: The provided value for the input parameter 'scope' is not valid (${scope}).` });
      return true;
    }
  }
  req.body = form.toString(); // oidc-provider reads req.body once the stream is consumed
}

const loginPage = (uid, note = '') => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in</title></head><body>
${note}<form method=post action="/interaction/${uid}/login"><input name=login><input name=password type=password><button>Sign in</button></form>
<p><a href="/interaction/${uid}/abort">Cancel</a></p></body></html>`;

// Our own minimal interaction UI: a login form, and automatic consent to everything asked.
async function interaction(layout, req, res, path) {
  const match = /^\/interaction\/([\w-]+)(\/login|\/abort)?$/.exec(path);
  if (!match) return send(res, 404, 'not found');
  const [, uid, action] = match;
  const { provider } = layout;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'interaction does not match the interaction cookie');

  if (action === '/abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  if (action === '/login') {
    if (req.method !== 'POST') return send(res, 405, 'use POST', { allow: 'POST' });
    const form = new URLSearchParams(await readBody(req));
    const login = form.get('login')?.trim();
    if (!Object.hasOwn(ACCOUNTS, login ?? '')) return send(res, 401, loginPage(uid, '<p>Unknown user.</p>'));
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name === 'login') return send(res, 200, loginPage(uid));
  if (details.prompt.name === 'consent') {
    const { prompt: { details: missing }, params, session } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
  }
  return send(res, 400, `unsupported prompt ${details.prompt.name}`);
}

async function handle(layout, req, res) {
  const url = new URL(req.url, layout.origin);
  const path = layout.rewrites?.[url.pathname] ?? url.pathname;
  if (DEBUG) console.error(`[idp ${layout.name}] ${req.method} ${url.pathname}${url.search}`);
  if (path.startsWith('/interaction/')) return interaction(layout, req, res, path);
  const at = (route) => layout.mount + layout.routes[route];
  if (path === at('userinfo') && req.method !== 'OPTIONS') return userinfo(layout, req, res);
  if (req.method === 'POST' && (path === at('token') || path === at('revocation'))) {
    if (await normalizeTokenRequest(layout, req, res, path === at('revocation'))) return undefined;
  }
  // OIDC Core (and oidc-provider) drop offline_access unless prompt includes consent; the
  // vendors issue a refresh token anyway. Ask for consent on the RP's behalf (it is granted
  // automatically) unless the RP sent prompt=none or already asked for consent.
  if (req.method === 'GET' && path === at('authorization')) {
    const q = url.searchParams;
    const prompts = new Set((q.get('prompt') ?? '').split(' ').filter(Boolean));
    if (q.get('scope')?.split(' ').includes('offline_access') && !prompts.has('none') && !prompts.has('consent')) {
      q.set('prompt', [...prompts, 'consent'].join(' '));
    }
  }
  const { mount } = layout;
  if (mount && path !== mount && !path.startsWith(`${mount}/`)) return send(res, 404, 'not found');
  // Mount oidc-provider under the prefix: it derives its URLs' mount path from
  // req.originalUrl minus req.url (the same contract express/koa-mount provide).
  req.originalUrl = path + url.search;
  req.url = (path.slice(mount.length) || '/') + url.search;
  return layout.callback(req, res);
}

// ---------------------------------------------------------------- startup

async function start(layout) {
  const handler = (req, res) => {
    handle(layout, req, res).catch((err) => {
      console.error(`[idp ${layout.name}] ${req.method} ${req.url}: ${err.stack ?? err}`);
      if (!res.headersSent) send(res, err.status ?? 500, { error: err.error ?? 'server_error', error_description: err.message });
      else res.destroy();
    });
  };
  const server = TLS ? https.createServer(TLS, handler) : http.createServer(handler);
  const port = await listenFree(server, RP_PORT);
  layout.port = port;
  layout.origin = `${TLS ? 'https' : 'http'}://127.0.0.1:${port}`;
  layout.issuer = layout.origin + layout.issuerPath;
  layout.provider = new Provider(layout.issuer, configure(layout, await makeKeys(layout)));
  // oidc-provider sends no "interval" in the device authorization response, so a CLI would
  // poll at RFC 8628's default of 5 s; advertise IDP_DEVICE_INTERVAL (1 s) to keep tests fast.
  layout.provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === layout.routes.device_authorization && ctx.status === 200 && ctx.body?.device_code) {
      ctx.body = { ...ctx.body, interval: DEVICE_INTERVAL };
    }
  });
  layout.callback = layout.provider.callback();
  trackRevocations(layout);
  // Protocol errors (pending device codes, bad grants) are expected in tests: log them only
  // with IDP_DEBUG; our own crashes and failed back-channel deliveries always.
  const events = DEBUG ? ['server_error', 'backchannel.error', 'grant.error', 'authorization.error', 'end_session.error']
    : ['server_error', 'backchannel.error'];
  for (const event of events) {
    layout.provider.on(event, (...args) => {
      const err = args.find((a) => a instanceof Error);
      console.error(`[idp ${layout.name}] ${event}: ${err?.message} ${err?.error_description ?? ''}`);
    });
  }
}

await Promise.all(LAYOUTS.map(start));
// The Microsoft Graph stand-in, next to the Entra ID layout whose app tokens it accepts.
const entra = LAYOUTS.find((l) => l.name === 'entra_id');
entra.graphOrigin = await startGraph({
  verify: (token) => verifyAccessToken(entra, token),
  accounts: Object.keys(ACCOUNTS),
  avoidPort: RP_PORT,
});

const ready = Object.fromEntries(LAYOUTS.map((l) => [l.name, {
  issuer: l.issuer, port: l.port, ...(l.tenant ? { tenant: l.tenant } : {}), ...(l.graphOrigin ? { graph: l.graphOrigin } : {}),
}]));
process.stdout.write(`${JSON.stringify(ready)}\n`);
console.error(`[idp] ready, relying party ${RP}`);

// Die with the test harness: when our stdin closes (the parent dropped its pipe or exited),
// or on a signal. --no-stdin-watch is for running by hand with stdin at /dev/null.
const exit = (why) => {
  console.error(`[idp] exiting (${why})`);
  process.exit(0);
};
if (!argv.includes('--no-stdin-watch')) {
  process.stdin.on('end', () => exit('stdin closed'));
  process.stdin.on('close', () => exit('stdin closed'));
  process.stdin.on('error', () => exit('stdin error'));
  process.stdin.resume();
}
process.on('SIGTERM', () => exit('SIGTERM'));
process.on('SIGINT', () => exit('SIGINT'));
process.on('SIGHUP', () => exit('SIGHUP'));

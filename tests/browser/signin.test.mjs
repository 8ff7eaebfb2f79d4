// Portcullis's pages in a real browser: the one-time setup link, the
// signed-in landing page, sign-out, a failed and a good sign-in.
//
// Runs the real `portcullis-server serve` binary (PORTCULLIS_BIN, default
// target/debug/portcullis-server) on a free loopback port with a fresh data
// directory, and drives Debian's Chromium (CHROMIUM, default
// /usr/bin/chromium) headless through playwright-core.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort, launchChromium, startServer } from './support.mjs';

const EMAIL = 'ada@example.com';
const PASSWORD = 'a long browser passphrase';

let server, browser, base, setupLink, dataDir;

before(async () => {
  ({ server, base, setupLink, dataDir } = await startServer('portcullis-browser-'));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the setup link creates the owner and signs them in', async () => {
  const page = await browser.newPage();
  await page.goto(setupLink);
  assert.match(await page.locator('h1').innerText(), /Set up Portcullis/);
  await page.fill('#email', EMAIL);
  await page.fill('#display_name', 'Ada Lovelace');
  await page.fill('#password', PASSWORD);
  await page.fill('#password_confirm', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  assert.equal(await page.locator('#who').innerText(), 'Ada Lovelace');
  const table = await page.locator('table').innerText();
  assert.match(table, /Default/);
  assert.match(table, /Owner/);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'portcullis_session');
  assert.ok(session, 'session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  await page.screenshot({ path: join(dataDir, 'landing.png') });

  // The link works only once.
  const again = await browser.newPage();
  const resp = await again.goto(setupLink);
  assert.equal(resp.status(), 404);
  assert.match(await again.locator('body').innerText(), /already used/);
  await again.close();

  // Sign out with the button: back at the sign-in page, the API refuses the old cookie.
  await page.click('text=Sign out');
  await page.waitForURL(/\/auth\/local\/login$/);
  const me = await page.request.get(`${base}/api/v1/me`);
  assert.equal(me.status(), 401);
  await page.close();
});

test('a wrong password shows why, the right one signs in', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/auth/local/login?return_to=/api/v1/me`);
  await page.fill('#email', EMAIL);
  await page.fill('#password', 'not the password at all');
  await page.click('button[type=submit]');
  assert.match(await page.locator('.error').innerText(), /e-mail address or the password is wrong/);
  // The e-mail address is kept, the password is not.
  assert.equal(await page.inputValue('#email'), EMAIL);
  assert.equal(await page.inputValue('#password'), '');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/api/v1/me`);
  const me = JSON.parse(await page.locator('body').innerText());
  assert.equal(me.user.email, EMAIL);
  assert.equal(me.organizations[0].role.kind, 'owner');
  await ctx.close();
});

test('a form posted from another site is refused', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  // A page on another origin that auto-submits a sign-in form to Portcullis.
  const evil = createServer();
  const port = await freePort();
  const http = await import('node:http');
  const evilServer = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<form id=f method=post action="${base}/auth/local/login"><input name=email value="${EMAIL}"><input name=password value="${PASSWORD}"></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise((ok) => evilServer.listen(port, '127.0.0.2', ok));
  const responses = [];
  page.on('response', (r) => { if (r.url().startsWith(`${base}/auth/local/login`)) responses.push(r.status()); });
  await page.goto(`http://127.0.0.2:${port}/`);
  await page.waitForLoadState('networkidle');
  assert.deepEqual(responses, [403]);
  const cookies = await ctx.cookies(base);
  assert.equal(cookies.find((c) => c.name === 'portcullis_session'), undefined);
  evilServer.close();
  evil.close();
  await ctx.close();
});

// A CLI login (RFC 8628) approved on the /device page, as a person would:
// the link from the terminal leads through sign-in and back to the code.
async function deviceCode() {
  const r = await fetch(`${base}/oauth2/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: 'portcullis-cli', scope: 'openid profile email' }),
  });
  assert.equal(r.status, 200);
  return r.json();
}

async function poll(deviceCode) {
  const r = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode, client_id: 'portcullis-cli' }),
  });
  return r.json();
}

test('a CLI login is approved on the device page after signing in', async () => {
  const d = await deviceCode();
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(d.verification_uri_complete);
  // Not signed in: the sign-in form first, then back to the same code.
  await page.waitForURL(/\/auth\/local\/login\?return_to=/);
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/device\?user_code=/);
  assert.equal(await page.locator('#code').innerText(), d.user_code);
  assert.match(await page.locator('body').innerText(), new RegExp(`act as ${EMAIL.replace('.', '\\.')}`));
  await page.click('button[value=approve]');
  assert.match(await page.locator('h1').innerText(), /Device connected/);
  const tokens = await poll(d.device_code);
  assert.ok(tokens.access_token, JSON.stringify(tokens));
  const me = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal((await me.json()).user.email, EMAIL);
  await ctx.close();
});

test('a code typed by hand can be denied, and the CLI is told so', async () => {
  const d = await deviceCode();
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/auth/local/login?return_to=/device`);
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/device`);
  // Lower case, without the dash: still the same code.
  await page.fill('#user_code', d.user_code.replace('-', '').toLowerCase());
  await page.click('button[type=submit]');
  assert.equal(await page.locator('#code').innerText(), d.user_code);
  await page.click('button[value=deny]');
  assert.match(await page.locator('h1').innerText(), /Request denied/);
  assert.equal((await poll(d.device_code)).error, 'access_denied');
  await ctx.close();
});

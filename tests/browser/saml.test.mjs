// SAML 2.0 sign-in and single logout in a real browser: Portcullis with
// AUTH_PROVIDER=saml against Debian's SimpleSAMLphp (tests/saml-idp, served
// by `php -S`), driven in headless Chromium. The IdP's own pages (its login
// form, its auto-submitting POST form) and Portcullis's (the landing page,
// the sign-out hand-over with its meta refresh, the signed-out page, the
// troubleshooting page) all run as a person's browser runs them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, launchChromium } from './support.mjs';

const BIN = process.env.PORTCULLIS_BIN || resolve(import.meta.dirname, '../../target/debug/portcullis-server');
const SSP_WWW = '/usr/share/simplesamlphp/www';
const SSP_CONFIG = resolve(import.meta.dirname, '../saml-idp/config');

let portcullis, idp, browser, base, idpBase, dataDir;

async function waitFor(what, check, ms = 20000) {
  const started = Date.now();
  for (;;) {
    try { if (await check()) return; } catch { /* not yet */ }
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  assert.ok(existsSync(SSP_WWW), "SimpleSAMLphp is not installed: install Debian's simplesamlphp and php-cli (scripts/test.sh does)");
  dataDir = mkdtempSync(join(tmpdir(), 'portcullis-browser-saml-'));
  const [idpPort, port] = [await freePort(), await freePort()];
  idpBase = `http://127.0.0.1:${idpPort}/`;
  base = `http://127.0.0.1:${port}`;
  const spJson = join(dataDir, 'sp.json');
  writeFileSync(spJson, '[]');
  mkdirSync(join(dataDir, 'ssp', 'tmp'), { recursive: true });
  idp = spawn('php', ['-S', `127.0.0.1:${idpPort}`, '-t', SSP_WWW], {
    env: { PATH: process.env.PATH, SIMPLESAMLPHP_CONFIG_DIR: SSP_CONFIG, SSP_BASE_URL: idpBase, SSP_STATE_DIR: join(dataDir, 'ssp'), SSP_SP_JSON: spJson },
    stdio: 'ignore',
  });
  await waitFor('SimpleSAMLphp', async () => (await fetch(`${idpBase}saml2/idp/metadata.php`)).ok);
  portcullis = spawn(BIN, ['serve'], {
    env: {
      PATH: process.env.PATH, PORTCULLIS_LISTEN: `127.0.0.1:${port}`, PORTCULLIS_DATA_DIR: join(dataDir, 'portcullis'), PORTCULLIS_LOG: 'warn',
      AUTH_PROVIDER: 'saml', SAML_IDP_METADATA_URL: `${idpBase}saml2/idp/metadata.php`,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor('Portcullis to read the IdP metadata', async () => (await (await fetch(`${base}/readyz`)).json()).providers?.saml === 'ok');
  // The IdP trusts Portcullis's generated SP certificate, ACS and SLO.
  const pem = readFileSync(join(dataDir, 'portcullis', 'saml-sp-saml.crt'), 'utf8');
  const cert = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  writeFileSync(spJson, JSON.stringify([{
    entity_id: `${base}/auth/saml/metadata`, acs: `${base}/auth/saml/callback`, slo: `${base}/auth/saml/slo`, cert, encrypt: false,
  }]));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  portcullis?.kill('SIGTERM');
  idp?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function signInAtIdp(page, user, password) {
  await page.waitForSelector('input[name=username]');
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.press('input[name=password]', 'Enter');
}

test('sign in through the SAML IdP, then sign out of both', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  // One provider: the sign-in page goes straight to the IdP.
  await page.goto(`${base}/auth/login`);
  await page.waitForURL((u) => u.href.startsWith(idpBase));
  await signInAtIdp(page, 'alice', 'alice-password');
  // The IdP's page posts the signed response to the ACS by itself.
  await page.waitForURL(`${base}/`);
  assert.equal(await page.locator('#who').innerText(), 'Alice Admin');
  assert.match(await page.locator('table').innerText(), /Owner/);
  const me = await (await page.request.get(`${base}/api/v1/me`)).json();
  assert.equal(me.user.factory_admin, true);
  assert.equal(me.session.provider, 'saml');

  // Sign out: Portcullis's session ends, the page hands over to the IdP's
  // single logout, whose answer lands on the signed-out page.
  await page.click('text=Sign out');
  await page.waitForURL((u) => u.href.startsWith(`${base}/auth/saml/slo?SAMLResponse=`));
  assert.match(await page.locator('body').innerText(), /You are signed out of Portcullis and of your SAML identity provider\./);
  assert.equal((await page.request.get(`${base}/api/v1/me`)).status(), 401);
  // The IdP's session ended too: signing in again asks for the password.
  await page.goto(`${base}/auth/saml/login`);
  await page.waitForSelector('input[name=username]');
  await ctx.close();
});

test('a refused SAML message shows which check failed and a request id', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const resp = await page.goto(`${base}/auth/saml/slo?SAMLRequest=${encodeURIComponent('bm90IGRlZmxhdGVk')}`);
  assert.equal(resp.status(), 400);
  assert.equal(await page.locator('h1').innerText(), 'SAML sign-out refused');
  const text = await page.locator('body').innerText();
  assert.match(text, /Check `malformed` failed: The SAML message is not DEFLATE-compressed/);
  assert.match(text, /Request id: \S+/);
  await ctx.close();
});

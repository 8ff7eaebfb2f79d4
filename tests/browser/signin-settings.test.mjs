// Sign-in settings in a real browser, with a real OpenID provider: the
// oidc-provider peer (tests/idp, its Okta layout) beside password sign-in,
// and Portcullis configured with a wrong API audience (OKTA_AUDIENCE), as
// an operator might. The page shows the URLs to register (the copy buttons
// appear: their script runs under the CSP), the signing keys, the CLI
// settings; Test sign-in makes a real round trip in a new window and
// reports the wrong audience with its fix, and starts no session; a member
// is refused the page. axe and screenshots as for every page.
//
// Runs the real `portcullis-server serve` binary (PORTCULLIS_BIN), node's
// tests/idp/server.mjs, and Debian's Chromium (CHROMIUM).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { freePort, launchChromium, startServer } from './support.mjs';
import { panel } from './panel-support.mjs';

const OWNER = { email: 'hedy@example.com', password: 'an owner passphrase here', name: 'Hedy Lamarr' };
const MEMBER = { email: 'claude@example.com', password: 'a member passphrase here', name: 'Claude Shannon' };

let server, browser, base, setupLink, dataDir, idp, layouts, h;

before(async () => {
  const port = await freePort();
  idp = spawn(process.execPath, [resolve(import.meta.dirname, '../idp/server.mjs'), '--rp', `http://127.0.0.1:${port}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  layouts = JSON.parse(await new Promise((ok, fail) => {
    createInterface({ input: idp.stdout }).once('line', ok);
    idp.once('exit', (code) => fail(new Error(`the OpenID provider peer exited with ${code}`)));
  }));
  ({ server, base, setupLink, dataDir } = await startServer('portcullis-signin-settings-', {
    PORTCULLIS_AUTH_PROVIDERS: 'okta,local',
    OKTA_SITE: `http://127.0.0.1:${layouts.okta.port}`,
    OKTA_AUTHORIZATION_SERVER: 'default',
    // The peer's access tokens are for api://default: this is the mistake to find.
    OKTA_AUDIENCE: 'api://portcullis-wrong',
    OKTA_CLIENT_ID: 'okta-web',
    OKTA_CLIENT_SECRET: 'okta-secret',
    OKTA_DEVICE_AUTHORIZATION_CLIENT_ID: 'okta-cli',
  }, port));
  browser = await launchChromium();
  h = panel(browser, base);
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  idp?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('Sign-in settings show what to register, and Test sign-in reports a wrong audience without signing in', async () => {
  const context = await browser.newContext();
  const owner = await context.newPage();
  await h.setUpOwner(owner, setupLink, OWNER);
  await owner.click('header nav >> text="Sign-in settings"');
  await owner.waitForURL(`${base}/settings/sign-in`);
  const okta = owner.locator('section.provider', { hasText: 'Okta' });
  const urls = await okta.locator('dl.urls').innerText();
  assert.match(urls, new RegExp(`${base}/auth/okta/callback`));
  assert.match(urls, new RegExp(`${base}/auth/logged-out`));
  assert.match(urls, new RegExp(`${base}/auth/okta/backchannel-logout`));
  // The copy buttons' script ran under the page's CSP, and a copy works.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const copy = okta.locator('button[aria-label="Copy the Redirect URI (callback)"]');
  await copy.waitFor({ state: 'visible' });
  await copy.click();
  assert.equal(await owner.evaluate(() => navigator.clipboard.readText()), `${base}/auth/okta/callback`);
  // Discovery and keys; no secret on the page.
  assert.match(await okta.locator('dl.facts').nth(1).innerText(), new RegExp(layouts.okta.issuer.replace(/[/.]/g, '\\$&')));
  assert.ok(await okta.locator('table tbody tr').count() >= 1, 'the signing keys are listed');
  assert.doesNotMatch(await owner.content(), /okta-secret/);
  assert.match(await owner.locator('#cli + p + pre').innerText(), /"audience": "api:\/\/portcullis-wrong"/);
  await h.screenshots(owner, 'sign-in-settings');
  assert.deepEqual(await h.accessibilityProblems('/settings/sign-in', await context.cookies()), []);

  // Test sign-in: a real round trip in a new window.
  const [popup] = await Promise.all([owner.waitForEvent('popup'), owner.click('#test-okta')]);
  await popup.waitForSelector('input[name=login]');
  await popup.fill('input[name=login]', 'alice');
  await popup.fill('input[name=password]', 'any password');
  await popup.click('button');
  await popup.waitForSelector('#verdict');
  assert.match(await popup.locator('#verdict').innerText(), /A check failed/);
  const checks = await popup.locator('ol.checks li').allInnerTexts();
  for (const passed of ['state', 'code exchange', 'ID token signature', 'issuer', 'audience (ID token for this client)']) {
    assert.ok(checks.some((c) => c.startsWith('passed') && c.includes(passed)), `${passed} passed:\n${checks.join('\n')}`);
  }
  const access = checks.find((c) => c.includes('access token for the API'));
  assert.match(access, /^failed/);
  assert.match(access, /audience mismatch: got "api:\/\/default", expected `api:\/\/portcullis-wrong`/);
  assert.match(access, /Check OKTA_AUDIENCE \(the API audience Okta issues tokens for\)/);
  assert.ok(checks.some((c) => /^passed roles/.test(c) && /factory-admin/.test(c)), checks.join('\n'));
  assert.match(await popup.locator('main').innerText(), /alice@example\.test/);
  await h.screenshots(popup, 'test-sign-in');
  // No session started, no account made: the window is still not signed in as alice.
  assert.equal((await popup.request.get(`${base}/api/v1/me`)).status(), 200, 'still the owner in this browser');
  assert.equal((await (await popup.request.get(`${base}/api/v1/me`)).json()).user.email, OWNER.email);
  const members = await h.api(owner, 'GET', '/api/v1/users');
  assert.ok(!members.some((m) => m.user.email === 'alice@example.test'), 'alice was not provisioned');
  const audit = await h.api(owner, 'GET', '/api/v1/audit?action=sign_in.test');
  assert.equal(audit.length, 1);
  assert.equal(audit[0].outcome, 'failure');
  await popup.close();

  // Members may not see the page.
  await h.api(owner, 'POST', '/api/v1/users', { email: MEMBER.email, display_name: MEMBER.name, password: MEMBER.password });
  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  await h.signIn(member, MEMBER);
  assert.equal(await member.locator('header nav >> text="Sign-in settings"').count(), 0);
  const refused = await member.goto(`${base}/settings/sign-in`);
  assert.equal(refused.status(), 403);
  assert.match(await member.locator('main').innerText(), /factory-admin/);
  assert.equal((await member.goto(`${base}/settings/sign-in/test/okta`)).status(), 403);
  await memberContext.close();
  await context.close();
});

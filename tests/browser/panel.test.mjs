// The admin panel's layout and home page in a real browser: one stylesheet
// under a strict Content-Security-Policy, the signed-in header, the home
// page's "needs attention" decided by the RBAC decision (an owner sees a
// private automation's failing health check, a member does not), no serious
// accessibility violations (axe-core), light and dark screenshots under
// target/screenshots/.
//
// Runs the real `portcullis-server serve` binary (PORTCULLIS_BIN) with a
// one-second health-check interval, and Debian's Chromium (CHROMIUM).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { freePort, launchChromium, startServer } from './support.mjs';
import { panel } from './panel-support.mjs';
const OWNER = { email: 'grace@example.com', password: 'an owner passphrase here', name: 'Grace Hopper' };
const MEMBER = { email: 'alan@example.com', password: 'a member passphrase here', name: 'Alan Turing' };

let server, browser, base, setupLink, dataDir;
let setUpOwner, signIn, api, accessibilityProblems, screenshots;

before(async () => {
  ({ server, base, setupLink, dataDir } = await startServer('portcullis-panel-', { PORTCULLIS_HEALTH_CHECK_INTERVAL: '1s' }));
  browser = await launchChromium();
  ({ setUpOwner, signIn, api, accessibilityProblems, screenshots } = panel(browser, base));
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the home page: one stylesheet, a strict CSP, and what needs attention as the RBAC decision allows', async () => {
  const context = await browser.newContext();
  const owner = await context.newPage();
  await setUpOwner(owner, setupLink, OWNER);

  // The strict policy, and the stylesheet it allows.
  const home = await owner.goto(`${base}/`);
  const csp = home.headers()['content-security-policy'];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /style-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.match(csp, /frame-ancestors 'none'/);
  const href = await owner.locator('link[rel=stylesheet]').getAttribute('href');
  const css = await owner.request.get(`${base}${href}`);
  assert.equal(css.status(), 200);
  assert.match(css.headers()['content-type'], /^text\/css/);
  assert.equal(await owner.evaluate(() => document.styleSheets.length), 1, 'the stylesheet applied under the CSP');

  // The signed-in header: the areas this person may open, who they are.
  assert.equal(await owner.locator('header nav a[aria-current=page]').innerText(), 'Home');
  assert.match(await owner.locator('header .who').innerText(), new RegExp(OWNER.name));
  assert.match(await owner.locator('main').innerText(), /Nothing needs your attention/);

  // A member of the same organization, and a private automation whose
  // upstream does not answer: its health check fails within a second.
  await api(owner, 'POST', '/api/v1/users', { email: MEMBER.email, display_name: MEMBER.name, password: MEMBER.password });
  const deadPort = await freePort();
  await api(owner, 'POST', '/api/v1/automations', {
    name: 'Nightly «report» crew', upstream_url: `http://127.0.0.1:${deadPort}`, upstream_token: 'upstream-secret', visibility: 'private',
  });
  let text = '';
  for (let i = 0; i < 40 && !/is unhealthy/.test(text); i++) {
    await new Promise((r) => setTimeout(r, 250));
    await owner.goto(`${base}/`);
    text = await owner.locator('main').innerText();
  }
  assert.match(text, /The automation “Nightly «report» crew” in .+ is unhealthy/);
  await screenshots(owner, 'home-owner');
  const cookies = await context.cookies();
  assert.deepEqual(await accessibilityProblems('/', cookies), []);

  // The member may not see the private automation, so nothing is said of it.
  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  await signIn(member, MEMBER);
  assert.equal(await member.locator('#who').innerText(), MEMBER.name);
  assert.match(await member.locator('table').innerText(), /Member/);
  const memberText = await member.locator('main').innerText();
  assert.doesNotMatch(memberText, /Nightly/);
  assert.match(memberText, /Nothing needs your attention/);
  await screenshots(member, 'home-member');
  await memberContext.close();

  // The sign-in page shares the layout (without the header) and passes axe.
  const anonymous = await browser.newPage();
  await anonymous.goto(`${base}/auth/local/login`);
  assert.equal(await anonymous.locator('header').count(), 0);
  await screenshots(anonymous, 'sign-in');
  await anonymous.close();
  assert.deepEqual(await accessibilityProblems('/auth/local/login', []), []);
  await context.close();
});

// A CLI login (RFC 8628) through the local authorization server, approved
// on /device by the signed-in `page`; returns the tokens.
async function cliLogin(page) {
  const form = (fields) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  const d = await (await fetch(`${base}/oauth2/device_authorization`, form({ client_id: 'portcullis-cli', scope: 'openid profile email offline_access' }))).json();
  await page.goto(d.verification_uri_complete);
  await page.click('button[value=approve]');
  assert.match(await page.locator('h1').innerText(), /Device connected/);
  const tokens = await (await fetch(`${base}/oauth2/token`, form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code, client_id: 'portcullis-cli' }))).json();
  assert.ok(tokens.refresh_token, JSON.stringify(tokens));
  return { tokens, refresh: () => fetch(`${base}/oauth2/token`, form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'portcullis-cli' })) };
}

test('My account lists my sessions and CLI logins, and ends them', async () => {
  // Two browsers signed in as the owner, and one CLI login.
  const laptop = await browser.newContext();
  const mine = await laptop.newPage();
  await signIn(mine, OWNER);
  const phone = await browser.newContext({ userAgent: 'Phone Browser/1.0' });
  const other = await phone.newPage();
  await signIn(other, OWNER);
  const cli = await cliLogin(mine);

  // Reached from the header, not a typed URL.
  await mine.goto(`${base}/`);
  await mine.click('header nav >> text=My account');
  await mine.waitForURL(`${base}/account`);
  assert.equal(await mine.locator('header nav a[aria-current=page]').innerText(), 'My account');
  const sessions = await mine.locator('#sessions + .scroll table').innerText();
  assert.match(sessions, /This session/);
  assert.match(sessions, /Phone Browser\/1\.0/);
  assert.match(await mine.locator('#cli-logins + .scroll table').innerText(), /portcullis-cli/);
  await screenshots(mine, 'account');
  assert.deepEqual(await accessibilityProblems('/account', await laptop.cookies()), []);

  // A forged post (another origin, no token) ends nothing.
  const forged = await fetch(`${base}/account/cli-logins/x/end`, { method: 'POST', headers: { origin: 'http://evil.example', cookie: (await laptop.cookies()).map((c) => `${c.name}=${c.value}`).join('; '), 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf_token=forged', redirect: 'manual' });
  assert.equal(forged.status, 403);

  // End the phone's session: its next request is signed out.
  await mine.locator('#sessions + .scroll table tr', { hasText: 'Phone Browser/1.0' }).locator('button').click();
  await mine.waitForURL(`${base}/account#sessions`);
  assert.doesNotMatch(await mine.locator('#sessions + .scroll table').innerText(), /Phone Browser/);
  await other.goto(`${base}/`);
  assert.match(other.url(), /\/auth\/(local\/)?login/, "signed out: sent to sign in");

  // End the CLI login: its refresh token stops working, and its access token.
  await mine.locator('#cli-logins + .scroll table button').click();
  await mine.waitForURL(`${base}/account#cli-logins`);
  assert.match(await mine.locator('main').innerText(), /No CLI is logged in as you/);
  const refreshed = await cli.refresh();
  assert.equal(refreshed.status, 400);
  assert.equal((await refreshed.json()).error, 'invalid_grant');
  const me = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${cli.tokens.access_token}` } });
  assert.equal(me.status, 401);

  // The audit log has both.
  const audit = await (await mine.request.get(`${base}/api/v1/audit`)).json();
  const actions = audit.map((e) => e.action);
  assert.ok(actions.includes('session.revoke') && actions.includes('cli_login.revoke'), actions.join(', '));
  await laptop.close();
  await phone.close();
});

test('Settings → Roles: the matrix is edited in the page and enforced on the next request', async () => {
  const ownerContext = await browser.newContext();
  const owner = await ownerContext.newPage();
  await signIn(owner, OWNER);
  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  await signIn(member, MEMBER);
  assert.equal((await member.request.get(`${base}/api/v1/usage`)).status(), 200, 'members read the usage dashboard by default');

  // Reached from the header; every role a column, every feature a row.
  await owner.goto(`${base}/`);
  await owner.click('header nav >> text=Roles');
  await owner.waitForURL(/\/settings\/roles/);
  const header = await owner.locator('table.matrix thead').innerText();
  assert.match(header, /Owner/);
  assert.match(header, /Member/);
  assert.equal(await owner.locator('table.matrix tbody tr').count(), 11);
  // Owner is fixed; a feature offers only its levels.
  assert.equal(await owner.locator('select[aria-label="Owner: Usage dashboards"]').count(), 0);
  const envOptions = await owner.locator('select[aria-label="Member: Environment variables"] option').allInnerTexts();
  assert.deepEqual(envOptions, ['none', 'manage']);
  await screenshots(owner, 'roles-owner');
  assert.deepEqual(await accessibilityProblems('/settings/roles', await ownerContext.cookies()), []);

  // Take the usage dashboard away from Member and save that column.
  await owner.selectOption('select[aria-label="Member: Usage dashboards"]', 'none');
  await owner.click('button[aria-label="Save the Member role"]');
  await owner.waitForURL(/saved=Member/);
  assert.match(await owner.locator('[role=status]').innerText(), /Saved: Member/);
  assert.equal(await owner.locator('select[aria-label="Member: Usage dashboards"]').inputValue(), 'none');
  const refused = await member.request.get(`${base}/api/v1/usage`);
  assert.equal(refused.status(), 403);
  assert.match((await refused.json()).message, /usage_dashboards: read/);

  // A member may look, not change.
  await member.goto(`${base}/settings/roles`);
  assert.equal(await member.locator('table.matrix select').count(), 0);
  assert.match(await member.locator('main').innerText(), /changing roles needs organization_settings: manage/);
  await screenshots(member, 'roles-member');

  // A forged save from another origin changes nothing.
  const memberRoleId = (await (await owner.request.get(`${base}/api/v1/roles`)).json()).find((r) => r.kind === 'member').id;
  const cookie = (await ownerContext.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const forged = await fetch(`${base}/settings/roles/${memberRoleId}`, { method: 'POST', redirect: 'manual', headers: { origin: 'http://evil.example', cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf_token=x&usage_dashboards=manage' });
  assert.equal(forged.status, 403);
  assert.equal((await member.request.get(`${base}/api/v1/usage`)).status(), 403);

  // A custom role: created empty, then given a level, then deleted.
  await owner.fill('#new-name', 'Viewer «read-only»');
  await owner.click('text=Create role');
  await owner.waitForURL(/saved=Viewer/);
  await owner.selectOption('select[aria-label="Viewer «read-only»: Automations (crews) dashboards"]', 'read');
  await owner.click('button[aria-label="Save the Viewer «read-only» role"]');
  await owner.waitForURL(/saved=Viewer/);
  const viewer = (await (await owner.request.get(`${base}/api/v1/roles`)).json()).find((r) => r.name === 'Viewer «read-only»');
  assert.equal(viewer.permissions.crews_dashboards, 'read');
  assert.equal(viewer.permissions.usage_dashboards, 'none');
  await owner.click('button[aria-label="Delete the Viewer «read-only» role"]');
  await owner.waitForURL(/\/settings\/roles\?org=/);
  assert.doesNotMatch(await owner.locator('table.matrix thead').innerText(), /Viewer/);
  await ownerContext.close();
  await memberContext.close();
});

/// Fills the Audit log's filters, applies them, and returns the rows.
async function filterAudit(page, fields, expectedUrl) {
  for (const [selector, value] of Object.entries(fields)) await page.fill(selector, value);
  await page.click('text=Filter');
  await page.waitForURL(expectedUrl);
  return page.locator('main table tbody tr').allInnerTexts();
}

test('the Audit log filters by action and resource, and exports the rows as CSV', async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const owner = await context.newPage();
  await signIn(owner, OWNER);
  await owner.goto(`${base}/`);
  await owner.click('header nav >> text=Audit log');
  await owner.waitForURL(/\/audit/);
  // The role changes of the previous test, found by action.
  await owner.fill('#action', 'role.update');
  await owner.click('text=Filter');
  await owner.waitForURL(/action=role\.update/);
  const rows = await owner.locator('main table tbody tr').allInnerTexts();
  assert.ok(rows.length >= 2, rows.join('\n'));
  assert.ok(rows.every((r) => /role\.update/.test(r) && new RegExp(OWNER.email).test(r)), rows.join('\n'));
  // By resource: a prefix of what was acted on (the custom role deleted before).
  const byResource = await filterAudit(owner, { '#action': 'role.delete', '#resource': 'role:' }, /resource=role/);
  assert.equal(byResource.length, 1, byResource.join('\n'));
  assert.match(byResource[0], /role\.delete/);
  await screenshots(owner, 'audit');
  assert.deepEqual(await accessibilityProblems(new URL(owner.url()).pathname + new URL(owner.url()).search, await context.cookies()), []);
  // The same rows as CSV.
  const [download] = await Promise.all([owner.waitForEvent('download'), owner.click('text=Export these rows as CSV')]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  assert.equal(csv[0], 'at,organization_id,actor_id,actor,action,target,outcome,ip,request_id,detail');
  assert.equal(csv.length, 2, csv.join('\n'));
  assert.match(csv[1], /role\.delete/);
  // An installation administrator may read the whole installation: my own
  // account's events (a CLI login ended) belong to no organization.
  await owner.selectOption('#scope', 'installation');
  const installation = await filterAudit(owner, { '#action': '', '#resource': 'cli_login:' }, /scope=installation/);
  assert.equal(installation.length, 1, installation.join('\n'));
  assert.match(installation[0], /cli_login\.revoke/);
  // A member may not read it: the page says which permission is missing.
  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  await signIn(member, MEMBER);
  assert.equal(await member.locator('header nav >> text=Audit log').count(), 0, 'not offered');
  const refused = await member.goto(`${base}/audit`);
  assert.equal(refused.status(), 403);
  assert.match(await member.locator('main').innerText(), /organization_settings: manage/);
  await memberContext.close();
  await context.close();
});

test('Check access answers as the API does, and says why', async () => {
  const context = await browser.newContext();
  const owner = await context.newPage();
  await signIn(owner, OWNER);
  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  await signIn(member, MEMBER);
  await owner.goto(`${base}/`);
  await owner.click('header nav >> text=Check access');
  await owner.waitForURL(/\/settings\/check-access/);
  const check = async (what) => {
    await owner.selectOption('#member', { label: `${MEMBER.name} <${MEMBER.email}>` });
    await owner.selectOption('#what', { label: what });
    await owner.click('form.filters button[type=submit]');
    await owner.waitForURL(/what=/);
    return { verdict: await owner.locator('#answer').innerText(), text: await owner.locator('main section').innerText() };
  };
  // The usage dashboard, taken from Member in the Roles test: refused, and the API agrees.
  let r = await check('use usage_dashboards at read');
  assert.equal(r.verdict, 'Refused');
  assert.match(r.text, /usage_dashboards: read/);
  assert.match(r.text, /Their role Member grants usage_dashboards: none/);
  assert.equal((await member.request.get(`${base}/api/v1/usage`)).status(), 403);
  // The automations dashboard: allowed, and the API agrees.
  r = await check('use crews_dashboards at read');
  assert.equal(r.verdict, 'Allowed');
  assert.equal((await member.request.get(`${base}/api/v1/dashboard/automations`)).status(), 200);
  // The private automation of the first test: not even visible, as the API says (404).
  r = await check('see “Nightly «report» crew”');
  assert.equal(r.verdict, 'Not visible');
  assert.match(r.text, /private/);
  const automations = await (await owner.request.get(`${base}/api/v1/automations`)).json();
  const nightly = automations.find((a) => a.name === 'Nightly «report» crew');
  assert.equal((await member.request.get(`${base}/api/v1/automations/${nightly.id}`)).status(), 404);
  await screenshots(owner, 'check-access');
  assert.deepEqual(await accessibilityProblems(new URL(owner.url()).pathname + new URL(owner.url()).search, await context.cookies()), []);
  // Not for members: the page names what they lack.
  const refused = await member.goto(`${base}/settings/check-access`);
  assert.equal(refused.status(), 403);
  assert.match(await member.locator('main').innerText(), /organization_settings: manage/);
  await memberContext.close();
  await context.close();
});

test('Settings → Group rules: edited in one form, kept when refused, read-only for members', async () => {
  const context = await browser.newContext();
  const owner = await context.newPage();
  await signIn(owner, OWNER);
  await owner.goto(`${base}/`);
  await owner.click('header nav >> text=Group rules');
  await owner.waitForURL(/\/settings\/group-rules/);
  // The initial rules (from the default role mapping), then empty rows to add more.
  assert.equal(await owner.inputValue('input[name="rule-0-pattern"]'), 'factory-admin');
  assert.equal(await owner.inputValue('input[name="rule-1-pattern"]'), 'member');
  // A claim rule without its claim is refused, and what was typed stays.
  await owner.fill('input[name="rule-2-pattern"]', 'eng-*');
  await owner.selectOption('select[name="rule-2-match"]', 'glob');
  await owner.fill('input[name="rule-2-claim"]', '');
  await owner.click('text=Save the rules');
  assert.match(await owner.locator('[role=alert]').innerText(), /Not saved: rule 3: claim/);
  assert.equal(await owner.inputValue('input[name="rule-2-pattern"]'), 'eng-*');
  // Fixed with the keyboard: focus the claim field, type, and submit with Enter.
  await owner.focus('input[name="rule-2-claim"]');
  await owner.keyboard.type('groups');
  await owner.fill('input[name="rule-3-pattern"]', 'factory-admins');
  await owner.selectOption('select[name="rule-3-role"]', { label: 'Owner' });
  await owner.fill('input[name="rule-3-order"]', '0.5');
  await owner.check('input[name="rule-0-remove"]');
  await owner.check('input[name="no_match"][value="refuse"]');
  await owner.focus('input[name="rule-2-claim"]');
  await owner.keyboard.press('Enter');
  await owner.waitForURL(/saved=1/);
  assert.match(await owner.locator('[role=status]').innerText(), /Saved/);
  const rules = await (await owner.request.get(`${base}/api/v1/group-rules`)).json();
  assert.deepEqual(rules.rules.map((r) => [r.source, r.pattern, r.match, r.role.kind]), [['claim', 'factory-admins', 'exact', 'owner'], ['idp_roles', 'member', 'exact', 'member'], ['claim', 'eng-*', 'glob', 'member']]);
  assert.equal(rules.no_match.action, 'refuse');
  await screenshots(owner, 'group-rules');
  assert.deepEqual(await accessibilityProblems(new URL(owner.url()).pathname + new URL(owner.url()).search, await context.cookies()), []);
  // A member sees the rules and no form.
  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  await signIn(member, MEMBER);
  await member.goto(`${base}/settings/group-rules`);
  assert.equal(await member.locator('main form[method=post]').count(), 0);
  assert.match(await member.locator('main').innerText(), /factory-admins[\s\S]*eng-\*/);
  await memberContext.close();
  await context.close();
});

// The admin panel's working pages in a real browser, each reached through
// the header from `/`: the automations dashboard (register, kick off a run
// against a real upstream and follow it, the Visibility tab), environment
// variables (set, reveal, the reveal in the audit log), Members (a role
// assigned, a member disabled and their open session refused), the usage
// dashboard's charts, and Organizations. An owner (also the installation's
// administrator), a member, and a member of a custom "Viewer" role walk
// them; every page passes axe and is photographed, light and dark.
//
// Runs the real `portcullis-server serve` binary (PORTCULLIS_BIN) and
// Debian's Chromium (CHROMIUM); the automation is `automation-peer.mjs`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { launchChromium, startServer } from './support.mjs';
import { panel } from './panel-support.mjs';
import { startAutomation } from './automation-peer.mjs';

const OWNER = { email: 'ada@example.com', password: 'an owner passphrase here', name: 'Ada Lovelace' };
const MEMBER = { email: 'charles@example.com', password: 'a member passphrase here', name: 'Charles Babbage' };
const VIEWER = { email: 'mary@example.com', password: 'a viewer passphrase here', name: 'Mary Somerville' };
const CREW = 'Research crew «weekly» 📊';
const UPSTREAM_TOKEN = 'the-crews-own-token';

let server, browser, base, setupLink, dataDir, automation;
let h;

before(async () => {
  ({ server, base, setupLink, dataDir } = await startServer('portcullis-operate-', { PORTCULLIS_HEALTH_CHECK_INTERVAL: '1s' }));
  browser = await launchChromium();
  h = panel(browser, base);
  automation = await startAutomation(UPSTREAM_TOKEN);
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  await automation?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/// Opens the header's `label` area from the home page, as a person would.
async function openFromHeader(page, label, urlPattern) {
  await page.goto(`${base}/`);
  await page.click(`header nav >> text="${label}"`);
  await page.waitForURL(urlPattern);
  assert.equal(await page.locator('header nav a[aria-current=page]').innerText(), label);
}

async function checkPage(page, name, context) {
  await h.screenshots(page, name);
  assert.deepEqual(await h.accessibilityProblems(h.here(page), await context.cookies()), [], `axe on ${name}`);
}

let owner, ownerContext;

test('an owner registers an automation, kicks off a run from its form and follows it to its result', async () => {
  ownerContext = await browser.newContext();
  owner = await ownerContext.newPage();
  await h.setUpOwner(owner, setupLink, OWNER);
  await h.api(owner, 'POST', '/api/v1/users', { email: MEMBER.email, display_name: MEMBER.name, password: MEMBER.password });
  await h.api(owner, 'POST', '/api/v1/users', { email: VIEWER.email, display_name: VIEWER.name, password: VIEWER.password });

  await openFromHeader(owner, 'Automations', /\/automations/);
  assert.match(await owner.locator('main').innerText(), /No automation is registered/);
  await owner.click('text=Register an automation');
  await owner.waitForURL(/\/automations\/new/);
  await owner.fill('#name', CREW);
  await owner.fill('#description', 'Writes the weekly research digest');
  await owner.fill('#upstream_url', automation.url);
  await owner.fill('#upstream_token', UPSTREAM_TOKEN);
  await owner.check('input[name=visibility][value=private]');
  await checkPage(owner, 'automation-register', ownerContext);
  await owner.click('main form button[type=submit]');
  await owner.waitForURL(/\/automations\/[0-9a-f-]{36}\?org=/);
  assert.equal(await owner.locator('h1').innerText(), CREW);

  // The kickoff form is built from the inputs the automation declares.
  assert.deepEqual(await owner.locator('#kickoff + form label').allInnerTexts(), ['topic', 'audience']);
  await owner.fill('#kickoff + form input[name="input.topic"]', 'tidal energy');
  await owner.fill('#kickoff + form input[name="input.audience"]', 'the board');
  await owner.click('#kickoff + form button[type=submit]');
  await owner.waitForURL(/\/runs\//);
  // The run page reloads itself (no script) until the automation reports an end.
  await owner.waitForFunction(() => /completed/.test(document.querySelector('#run-state')?.textContent || ''), null, { timeout: 20000 });
  assert.equal(await owner.locator('#run-result').innerText(), 'A report on tidal energy for the board');
  assert.deepEqual(automation.seen.kickoffs, [{ topic: 'tidal energy', audience: 'the board' }]);
  assert.ok(automation.seen.authorizations.every((a) => a === `Bearer ${UPSTREAM_TOKEN}`), 'only the automation\'s own token reached it');
  await checkPage(owner, 'automation-run', ownerContext);

  // Its overview lists the execution: state, who, when, latency.
  await owner.click('text=Back to the automation');
  const runs = await owner.locator('#executions + div table tbody tr').allInnerTexts();
  assert.equal(runs.length, 1, runs.join('\n'));
  assert.match(runs[0], /completed/);
  assert.match(runs[0], new RegExp(OWNER.name));
  assert.match(runs[0], /\d+ ms/);
  await checkPage(owner, 'automation-overview', ownerContext);

  // The list shows it with its last day's counts, and finds it by search.
  await owner.click('header nav >> text="Automations"');
  await owner.fill('#q', 'weekly');
  await owner.click('form.filters button[type=submit]');
  await owner.waitForURL(/q=weekly/);
  const row = await owner.locator('table.automations tbody tr').innerText();
  assert.match(row, /Research crew/);
  assert.match(row, /completed/);
  assert.match(row, /private/);
  await checkPage(owner, 'automations', ownerContext);
  await owner.fill('#q', 'nothing like it');
  await owner.click('form.filters button[type=submit]');
  await owner.waitForURL(/q=nothing/);
  assert.match(await owner.locator('main').innerText(), /No automation matches these filters/);

  // Settings: the token is never shown again.
  await owner.fill('#q', '');
  await owner.click('form.filters button[type=submit]');
  await owner.click(`text=${CREW}`);
  await owner.click('nav.tabs >> text=Settings');
  await owner.waitForURL(/\/settings\?org=/);
  assert.equal(await owner.locator('#upstream_token').inputValue(), '');
  assert.doesNotMatch(await owner.content(), new RegExp(UPSTREAM_TOKEN));
  assert.match(await owner.locator('#token-help').innerText(), /A token is set; it is never shown/);
  await checkPage(owner, 'automation-settings', ownerContext);
});

/// Presses Tab until the focused element matches `matches` (at most 60
/// times), and returns what is focused.
async function tabTo(page, matches) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => ({ tag: document.activeElement?.tagName, text: document.activeElement?.textContent?.trim(), name: document.activeElement?.getAttribute('name'), outline: getComputedStyle(document.activeElement).outlineStyle }));
    if (matches(focused)) return focused;
  }
  throw new Error('not reached with Tab');
}

test('the panel works from the keyboard alone: the header, the kickoff form, the run', async () => {
  await owner.goto(`${base}/`);
  // The skip link comes first, then the header's areas.
  await owner.keyboard.press('Tab');
  assert.equal(await owner.evaluate(() => document.activeElement.textContent), 'Skip to content');
  const link = await tabTo(owner, (f) => f.tag === 'A' && f.text === 'Automations');
  assert.notEqual(link.outline, 'none', 'the focused link is outlined');
  await owner.keyboard.press('Enter');
  await owner.waitForURL(/\/automations\?|\/automations$/);
  await tabTo(owner, (f) => f.tag === 'A' && f.text === CREW);
  await owner.keyboard.press('Enter');
  await owner.waitForURL(/\/automations\/[0-9a-f-]{36}/);
  await tabTo(owner, (f) => f.name === 'input.topic');
  await owner.keyboard.type('wind power');
  await owner.keyboard.press('Tab');
  await owner.keyboard.type('the public');
  await owner.keyboard.press('Enter');
  await owner.waitForURL(/\/runs\//);
  await owner.waitForFunction(() => /completed/.test(document.querySelector('#run-state')?.textContent || ''), null, { timeout: 20000 });
  assert.equal(await owner.locator('#run-result').innerText(), 'A report on wind power for the public');
});

test('a private automation made visible to one role only', async () => {
  // A custom Viewer role that may not use the automations dashboard.
  await h.api(owner, 'POST', '/api/v1/roles', { name: 'Viewer', permissions: { usage_dashboards: 'read' } });
  // Members: give Mary the Viewer role from the page.
  await openFromHeader(owner, 'Members', /\/members/);
  await owner.getByLabel(`Role of ${VIEWER.name}`, { exact: true }).selectOption({ label: 'Viewer' });
  await owner.click(`button[aria-label="Change the role of ${VIEWER.name}"]`);
  await owner.waitForURL(/done=/);
  assert.match(await owner.locator('[role=status]').innerText(), new RegExp(`${VIEWER.name} is now Viewer`));

  // Visibility tab: grant the Viewer role `run` and `traces`.
  const crew = (await h.api(owner, 'GET', '/api/v1/automations')).find((a) => a.name === CREW);
  await owner.goto(`${base}/automations/${crew.id}`);
  await owner.click('nav.tabs >> text=Visibility');
  await owner.waitForURL(/\/visibility/);
  const newRow = owner.locator('table.grants tbody tr').last();
  await newRow.locator('select').selectOption({ label: 'Role Viewer' });
  await newRow.locator('input[aria-label="new grant: run"]').check();
  await newRow.locator('input[aria-label="new grant: traces"]').check();
  await owner.click('text=Save visibility and grants');
  await owner.waitForURL(/saved=1/);
  assert.ok(await owner.locator('input[aria-label="Role Viewer: run"]').isChecked());
  await checkPage(owner, 'automation-visibility', ownerContext);

  // Mary (Viewer) sees and may run it; Charles (Member) does not even see it.
  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await h.signIn(viewer, VIEWER);
  assert.equal(await viewer.locator('header nav >> text="Automations"').count(), 0, 'the dashboard is not the Viewer role\'s');
  await viewer.goto(`${base}/automations`);
  assert.match(await viewer.locator('table.automations').innerText(), /Research crew/);
  await viewer.click(`text=${CREW}`);
  assert.equal(await viewer.locator('#kickoff').count(), 1, 'run is granted');
  assert.equal(await viewer.locator('nav.tabs >> text=Settings').count(), 0, 'manage_settings is not');
  assert.equal((await viewer.request.get(`${base}/api/v1/automations/${crew.id}`)).status(), 200);
  await checkPage(viewer, 'automation-viewer', viewerContext);
  await viewerContext.close();

  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  await h.signIn(member, MEMBER);
  await member.click('header nav >> text="Automations"');
  assert.doesNotMatch(await member.locator('main').innerText(), /Research crew/);
  const hidden = await member.goto(`${base}/automations/${crew.id}`);
  assert.equal(hidden.status(), 404);
  assert.equal((await member.request.get(`${base}/api/v1/automations/${crew.id}`)).status(), 404);
  await memberContext.close();
});

test('an environment variable is set, revealed, and the reveal is in the audit log', async () => {
  await openFromHeader(owner, 'Variables', /\/env/);
  await owner.fill('#name', 'OPENAI_API_KEY');
  await owner.fill('#value', 'sk-test-0123456789');
  await owner.getByRole('button', { name: 'Set', exact: true }).click();
  await owner.waitForURL(/saved=OPENAI_API_KEY/);
  const row = await owner.locator('table.env tbody tr').innerText();
  assert.match(row, /OPENAI_API_KEY/);
  assert.doesNotMatch(await owner.content(), /sk-test-0123456789/, 'the value is masked');
  await checkPage(owner, 'env', ownerContext);

  // A forged reveal from another origin is refused.
  const id = (await h.api(owner, 'GET', '/api/v1/env')).find((v) => v.name === 'OPENAI_API_KEY').id;
  const cookie = (await ownerContext.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const forged = await fetch(`${base}/env/${id}/reveal`, { method: 'POST', redirect: 'manual', headers: { origin: 'http://evil.example', cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf_token=x' });
  assert.equal(forged.status, 403);
  assert.doesNotMatch(await forged.text(), /sk-test/);

  await owner.click('button[aria-label="Reveal OPENAI_API_KEY"]');
  assert.equal(await owner.locator('#revealed').innerText(), 'sk-test-0123456789');
  // (A reveal is a POST, so axe, which loads pages anew, cannot revisit it.)
  await h.screenshots(owner, 'env-revealed');

  // Rotate: a new value under the same name.
  await owner.goto(`${base}/env`);
  await owner.fill('input[id^=rotate-]', 'sk-test-rotated');
  await owner.click('button[aria-label="Rotate OPENAI_API_KEY"]');
  await owner.waitForURL(/saved=OPENAI_API_KEY/);
  assert.equal((await h.api(owner, 'GET', `/api/v1/env/${id}/value`)).value, 'sk-test-rotated');

  // The Audit log has the reveal (one from the page; one from the API just now).
  await openFromHeader(owner, 'Audit log', /\/audit/);
  await owner.fill('#action', 'env.read');
  await owner.click('text=Filter');
  await owner.waitForURL(/action=env\.read/);
  const reveals = await owner.locator('main table tbody tr').allInnerTexts();
  assert.equal(reveals.length, 2, reveals.join('\n'));
  assert.ok(reveals.every((r) => r.includes(OWNER.email) && r.includes(`env:${id}`)), reveals.join('\n'));

  // The Viewer role may not manage variables: the page names the permission.
  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await h.signIn(viewer, VIEWER);
  assert.equal(await viewer.locator('header nav >> text="Variables"').count(), 0);
  const refused = await viewer.goto(`${base}/env`);
  assert.equal(refused.status(), 403);
  assert.match(await viewer.locator('main').innerText(), /environment_variables: manage/);
  await viewerContext.close();
});

test('the usage dashboard draws its charts and names the top automation and user', async () => {
  await openFromHeader(owner, 'Usage', /\/usage/);
  assert.equal(await owner.locator('svg.chart').count(), 4);
  const kickoffs = await owner.locator('dl.totals div', { hasText: 'Kickoffs' }).locator('dd').innerText();
  assert.equal(kickoffs, '2', 'the form\'s run and the keyboard\'s');
  assert.match(await owner.locator('#top-automations + table').innerText(), /Research crew/);
  assert.match(await owner.locator('#top-users + table').innerText(), new RegExp(OWNER.name));
  assert.match(await owner.locator('svg.chart').first().getAttribute('aria-label'), /Sign-ins: \d+ succeeded/);
  await checkPage(owner, 'usage', ownerContext);
  await owner.selectOption('#range', '365d');
  await owner.click('form.filters button[type=submit]');
  await owner.waitForURL(/range=365d/);
  assert.equal(await owner.locator('svg.chart').count(), 4);
  await h.screenshots(owner, 'usage-year');
});

test('Members: a member disabled is signed out at once, and Organizations are for installation administrators', async () => {
  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  await h.signIn(member, MEMBER);
  await openFromHeader(owner, 'Members', /\/members/);
  const row = await owner.locator('table.members tbody tr', { hasText: MEMBER.email }).innerText();
  assert.match(row, /with local/);
  assert.match(row, /[1-9]\d* browser/);
  await checkPage(owner, 'members', ownerContext);
  await owner.click(`button[aria-label="Disable ${MEMBER.name}"]`);
  await owner.waitForURL(/done=/);
  assert.match(await owner.locator('table.members tbody tr', { hasText: MEMBER.email }).innerText(), /disabled/);
  // The member's open session is refused on its next request.
  await member.goto(`${base}/`);
  assert.match(member.url(), /\/auth\/(local\/)?login/);
  assert.equal((await member.request.get(`${base}/api/v1/me`)).status(), 401);
  await memberContext.close();

  // Invite from the page: the one-time link is shown once.
  await owner.fill('#invite-email', 'grace@example.com');
  await owner.getByRole('button', { name: 'Invite', exact: true }).click();
  assert.match(await owner.locator('#invite-url').innerText(), /\/invite\?token=/);
  assert.match(await owner.locator('main').innerText(), /grace@example.com/);

  // A manager who is not an owner: offered nothing on the owner's row, and
  // never the Owner role (the domain's ManageMember decision).
  const managerRole = await h.api(owner, 'POST', '/api/v1/roles', { name: 'People manager', permissions: { organization_settings: 'manage', invitations: 'manage' } });
  const MANAGER = { email: 'katherine@example.com', password: 'a manager passphrase here', name: 'Katherine Johnson' };
  await h.api(owner, 'POST', '/api/v1/users', { email: MANAGER.email, display_name: MANAGER.name, password: MANAGER.password, role_id: managerRole.id });
  const managerContext = await browser.newContext();
  const manager = await managerContext.newPage();
  await h.signIn(manager, MANAGER);
  await manager.goto(`${base}/members`);
  const ownerRow = manager.locator('table.members tbody tr', { hasText: OWNER.email });
  assert.equal(await ownerRow.locator('button, select').count(), 0, 'nothing offered on the owner');
  const viewerRow = manager.locator('table.members tbody tr', { hasText: VIEWER.email });
  assert.equal(await viewerRow.locator(`button[aria-label="Disable ${VIEWER.name}"]`).count(), 1);
  assert.ok(!(await viewerRow.locator('select option').allInnerTexts()).includes('Owner'));
  assert.ok(!(await manager.locator('#invite-role option').allInnerTexts()).includes('Owner'));
  await h.screenshots(manager, 'members-manager');
  await managerContext.close();

  // Organizations: a new one, with an owner invited.
  await openFromHeader(owner, 'Organizations', /\/organizations/);
  await owner.fill('#org-name', 'Second «lab» 🧪');
  await owner.fill('#owner-email', 'alan@example.com');
  await owner.getByRole('button', { name: 'Create', exact: true }).click();
  assert.match(await owner.locator('[role=status]').first().innerText(), /Second «lab» 🧪 is created; alan@example.com is invited as its owner/);
  assert.match(await owner.locator('main table').innerText(), /Second «lab» 🧪/);
  await checkPage(owner, 'organizations', ownerContext);

  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await h.signIn(viewer, VIEWER);
  assert.equal(await viewer.locator('header nav >> text="Organizations"').count(), 0);
  const refused = await viewer.goto(`${base}/organizations`);
  assert.equal(refused.status(), 403);
  assert.match(await viewer.locator('main').innerText(), /factory-admin/);
  await viewerContext.close();
  await ownerContext.close();
});

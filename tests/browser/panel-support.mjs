// What the admin panel's browser tests share: signing in through the form,
// the API with the page's session and CSRF token, axe-core's serious and
// critical findings, and light and dark screenshots under target/screenshots/.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

export const SHOTS = resolve(import.meta.dirname, '../../target/screenshots');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export function panel(browser, base) {
  mkdirSync(SHOTS, { recursive: true });
  return {
    /// The first owner, created through the one-time setup link.
    async setUpOwner(page, setupLink, who) {
      await page.goto(setupLink);
      await page.fill('#email', who.email);
      await page.fill('#display_name', who.name);
      await page.fill('#password', who.password);
      await page.fill('#password_confirm', who.password);
      await page.click('main button[type=submit]');
      await page.waitForURL(`${base}/`);
    },

    async signIn(page, who) {
      await page.goto(`${base}/auth/local/login`);
      await page.fill('#email', who.email);
      await page.fill('#password', who.password);
      await page.click('button[type=submit]');
      await page.waitForURL(`${base}/`);
    },

    /// The API, with the page's session cookie and its CSRF token.
    async api(page, method, path, data) {
      const me = await (await page.request.get(`${base}/api/v1/me`)).json();
      const resp = await page.request.fetch(`${base}${path}`, { method, data, headers: { 'x-csrf-token': me.csrf_token } });
      assert.ok(resp.ok(), `${method} ${path}: ${resp.status()} ${await resp.text()}`);
      return resp.status() === 204 ? null : resp.json();
    },

    /// axe-core's serious and critical findings on the page at `path`. The
    /// page's CSP allows no script, so axe runs in a context that bypasses it.
    async accessibilityProblems(path, cookies) {
      const context = await browser.newContext({ bypassCSP: true });
      await context.addCookies(cookies);
      const page = await context.newPage();
      await page.goto(`${base}${path}`);
      await page.addScriptTag({ content: AXE });
      const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
      await context.close();
      return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')})`);
    },

    /// The page as it is now, light and dark, full length; and on a
    /// phone's width (390 px), where the page itself must not scroll
    /// sideways (wide tables scroll inside their own box).
    async screenshots(page, name) {
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.screenshot({ path: join(SHOTS, `${name}-${scheme}.png`), fullPage: true });
      }
      await page.emulateMedia({ colorScheme: 'light' });
      const size = page.viewportSize();
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
      const [overflow, culprits] = await page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > width + 1 && !e.closest('.scroll'));
        return [document.documentElement.scrollWidth - width, wide.slice(0, 4).map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className ? `.${e.className}` : ''}`)];
      });
      if (size) await page.setViewportSize(size);
      assert.ok(overflow <= 0, `${name}: on a phone the page is ${overflow} px wider than the screen (${culprits.join(', ')})`);
    },

    /// The current page's path and query, for axe.
    here(page) {
      const u = new URL(page.url());
      return u.pathname + u.search;
    },
  };
}

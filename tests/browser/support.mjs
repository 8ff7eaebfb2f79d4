// What the browser tests share: a free loopback port, and Debian's
// Chromium (CHROMIUM, default /usr/bin/chromium) launched headless.

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const BIN = process.env.PORTCULLIS_BIN || resolve(import.meta.dirname, '../../target/debug/portcullis-server');

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on('error', fail);
  });
}

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/// Starts `portcullis-server serve` on a loopback port (`port`, or a free
/// one) with a fresh data directory (and `env` added), and waits for the
/// one-time setup link it prints on its first start.
export async function startServer(prefix, env = {}, port = undefined) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  port ??= await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(BIN, ['serve'], {
    env: { PATH: process.env.PATH, PORTCULLIS_LISTEN: `127.0.0.1:${port}`, PORTCULLIS_DATA_DIR: dataDir, PORTCULLIS_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const setupLink = await new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`no setup link printed; output so far: ${out}`)), 20000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/(http:\/\/\S+\/setup\?token=\S+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    server.on('exit', (code) => fail(new Error(`portcullis exited with ${code}: ${out}`)));
  });
  return { server, base, setupLink, dataDir };
}

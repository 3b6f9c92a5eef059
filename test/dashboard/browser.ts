/**
 * Debian's Chromium, driven by puppeteer-core, presenting a client certificate the way a person's
 * browser does: from its NSS database. Each browser gets its own HOME (Chromium on Linux reads
 * $HOME/.pki/nssdb) holding the test CA as a trusted issuer and, when given, one client certificate
 * with its key (imported with pk12util from a PKCS#12 that openssl writes), and its own profile
 * whose content setting `auto_select_certificate` answers the server's certificate request for the
 * dashboard's origin without the picker a headless browser cannot show.
 *
 * Nothing here skips: a machine without chromium or certutil/pk12util (package libnss3-tools)
 * fails the test with the command that installs them (.ci/run does).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { ClientFiles } from '../harness/cert-factory.js';

export const CHROMIUM = process.env.PGMOAT_CHROMIUM ?? '/usr/bin/chromium';

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Throws (never skips) when the browser or the NSS tools are missing. */
export function requireBrowserTools(): void {
  const missing: string[] = [];
  if (!existsSync(CHROMIUM)) missing.push(`${CHROMIUM} (apt-get install chromium)`);
  if (!which('certutil') || !which('pk12util')) missing.push('certutil/pk12util (apt-get install libnss3-tools)');
  if (missing.length > 0) throw new Error(`the dashboard browser tests need ${missing.join(' and ')}; .ci/run installs them`);
}

export interface CertBrowser {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/**
 * A headless Chromium that trusts `caPath` and, with `client`, offers that certificate to `origin`
 * (https://127.0.0.1:PORT). The page is 1280x800.
 */
export async function launchWithCertificate(opts: { caPath: string; origin: string; client?: ClientFiles }): Promise<CertBrowser> {
  requireBrowserTools();
  const home = mkdtempSync(join(tmpdir(), 'pgmoat-chromium-'));
  try {
    const nss = join(home, '.pki', 'nssdb');
    mkdirSync(nss, { recursive: true, mode: 0o700 });
    const db = `sql:${nss}`;
    execFileSync('certutil', ['-N', '-d', db, '--empty-password'], { stdio: 'pipe' });
    execFileSync('certutil', ['-A', '-d', db, '-n', 'pgmoat test CA', '-t', 'C,,', '-i', opts.caPath], { stdio: 'pipe' });
    if (opts.client) {
      // The PKCS#12 lives only in this private temp dir, for pk12util, and goes with it.
      const p12 = join(home, 'client.p12');
      execFileSync('openssl', ['pkcs12', '-export', '-in', opts.client.certPath, '-inkey', opts.client.keyPath, '-out', p12, '-passout', 'pass:pgmoat-test', '-name', opts.client.name], { stdio: 'pipe' });
      execFileSync('pk12util', ['-i', p12, '-d', db, '-W', 'pgmoat-test'], { stdio: 'pipe' });
      rmSync(p12);
    }
    const profile = join(home, 'profile');
    mkdirSync(join(profile, 'Default'), { recursive: true });
    const prefs = { profile: { content_settings: { exceptions: { auto_select_certificate: { [`${opts.origin},*`]: { setting: { filters: [{}] } } } } } } };
    writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify(prefs));
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      userDataDir: profile,
      args: ['--no-sandbox', '--headless=new', '--no-first-run', '--disable-extensions', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      env: { ...process.env, HOME: home },
      defaultViewport: { width: 1280, height: 800 },
      protocolTimeout: 60_000,
    });
    const page = await browser.newPage();
    return {
      browser,
      page,
      async close() {
        await browser.close().catch(() => undefined);
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
}

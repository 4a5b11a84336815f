/**
 * Opens a report.html in headless Chromium (Debian's `chromium`, scripts/setup.sh) through
 * playwright-core, never a downloaded browser: every request that is not file: or data:
 * is refused and counted, console errors and page errors are collected, and each canvas
 * is read back to count its drawn pixels. Used by the report's browser test, the live
 * dashboard's (an http URL, with its origin allowed) and by `npm run bench:report`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface OpenedReport {
  readonly page: Page;
  /** Requests the page tried that were not file: or data: URLs, nor of the allowed origin (refused). */
  readonly blockedRequests: string[];
  /** Console messages of type error, and uncaught page errors. */
  readonly errors: string[];
  /** From navigation start to <body data-rendered>, as the page measured it and as seen from outside. */
  readonly renderMs: number;
  readonly pageRenderMs: number;
  /** From the navigation's start to every chart drawn, by the page's own clock (no remote-control round trips). */
  readonly navigationMs: number;
  close(): Promise<void>;
}

export async function openReport(
  file: string,
  viewport = { width: 1280, height: 900 },
  options: { readonly allowOrigin?: string } = {},
): Promise<OpenedReport> {
  const allowed = (url: string): boolean =>
    url.startsWith('file:') ||
    url.startsWith('data:') ||
    (options.allowOrigin !== undefined && url.startsWith(`${options.allowOrigin}/`));
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run npm run setup (apt-get install -y chromium)`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'meshbench-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const blockedRequests: string[] = [];
    const errors: string[] = [];
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (allowed(url)) await route.continue();
      else {
        blockedRequests.push(url);
        await route.abort();
      }
    });
    page.on('request', (request) => {
      const url = request.url();
      if (!allowed(url) && !blockedRequests.includes(url)) {
        blockedRequests.push(url);
      }
    });
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    const started = performance.now();
    await page.goto(/^https?:/.test(file) ? file : pathToFileURL(file).href, { waitUntil: 'load' });
    // Strings, not functions: this project compiles without the DOM library.
    await page.waitForFunction('document.body.dataset.rendered !== undefined', undefined, {
      timeout: 30_000,
    });
    const renderMs = performance.now() - started;
    const pageRenderMs = Number(await page.evaluate<string>('document.body.dataset.renderMs || "NaN"'));
    const navigationMs = Number(await page.evaluate<string>('document.body.dataset.navigationMs || "NaN"'));
    const opened = context;
    return {
      page,
      blockedRequests,
      errors,
      renderMs,
      pageRenderMs,
      navigationMs,
      async close() {
        await opened.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await context?.close();
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
}

/** Each chart's canvas (uPlot's and the map's) with how many of its pixels are drawn (not transparent, not white). */
export async function canvasInk(page: Page): Promise<{ chart: string; drawn: number; total: number }[]> {
  return page.evaluate<{ chart: string; drawn: number; total: number }[]>(`
    [...document.querySelectorAll('canvas')].map((canvas) => {
      const holder = canvas.closest('[data-chart], .map');
      const chart = holder
        ? (holder.dataset.chart || 'map') + (holder.dataset.level ? ' ' + holder.dataset.level : '')
        : 'canvas';
      const context = canvas.getContext('2d');
      if (!context || canvas.width === 0 || canvas.height === 0) return { chart, drawn: 0, total: 0 };
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let drawn = 0;
      for (let index = 0; index < pixels.length; index += 4) {
        const white = pixels[index] === 255 && pixels[index + 1] === 255 && pixels[index + 2] === 255;
        if (pixels[index + 3] > 0 && !white) drawn++;
      }
      return { chart, drawn, total: canvas.width * canvas.height };
    })
  `);
}

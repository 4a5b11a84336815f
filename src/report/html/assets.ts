/**
 * The files the report inlines: uPlot (from node_modules) and the page's own script and
 * style (src/report/html/page-draw.js and page.js, one script; page.css). They are found from the package root, which
 * is the first folder above this module holding meshbench's package.json: the same from
 * src/ (tsx), dist/ (tsc) and dist/bundle/ (esbuild). Read once per process.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MeshbenchError } from '../../common/errors.js';
import { packageRoot } from '../../common/package-root.js';

export interface ReportAssets {
  readonly uplotJs: string;
  readonly uplotCss: string;
  readonly pageJs: string;
  readonly pageCss: string;
}

function reportRoot(): string {
  const root = packageRoot();
  if (root) return root;
  throw new MeshbenchError('INTERNAL', "report: meshbench's package.json not found above this module", {
    hint: 'run meshbench from its installed folder',
  });
}

let cached: Promise<ReportAssets> | undefined;

async function load(): Promise<ReportAssets> {
  const root = reportRoot();
  const require = createRequire(join(root, 'package.json'));
  const read = async (path: string, what: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      throw new MeshbenchError('INTERNAL', `report: cannot read ${what} at ${path}`, {
        hint: 'reinstall meshbench (npm ci)',
        cause: error,
      });
    }
  };
  let uplotDir: string;
  try {
    uplotDir = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  } catch (error) {
    throw new MeshbenchError('INTERNAL', 'report: the uplot package is not installed', {
      hint: 'run npm ci in the meshbench folder',
      cause: error,
    });
  }
  const [uplotJs, uplotCss, drawJs, mainJs, pageCss] = await Promise.all([
    read(join(uplotDir, 'uPlot.iife.min.js'), 'uPlot'),
    read(join(uplotDir, 'uPlot.min.css'), "uPlot's style"),
    read(join(root, 'src', 'report', 'html', 'page-draw.js'), "the report page's drawing helpers"),
    read(join(root, 'src', 'report', 'html', 'page.js'), "the report page's script"),
    read(join(root, 'src', 'report', 'html', 'page.css'), "the report page's style"),
  ]);
  // one script: the drawing helpers (their global) first, then the page
  return { uplotJs, uplotCss, pageJs: `${drawJs}\n${mainJs}`, pageCss };
}

/** The inlined files, read once. */
export function reportAssets(): Promise<ReportAssets> {
  cached ??= load().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

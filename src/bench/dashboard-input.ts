/**
 * `--dashboard [PORT]` and `--dashboard-host`, as benchmark and the network commands take
 * them: where the live page (src/report/dashboard/) listens. Apart from plan.ts so the
 * network commands read it without loading the whole plan.
 */
import { badFlag } from '../common/errors.js';

/** `--dashboard` alone: k6's web dashboard port. */
export const DASHBOARD_DEFAULT_PORT = 5665;
/** Loopback only, unless `--dashboard-host` says otherwise. */
export const DASHBOARD_DEFAULT_HOST = '127.0.0.1';

/** `--dashboard [PORT]` and `--dashboard-host`: where the live page listens, or undefined when off. */
export function parseDashboardInput(
  raw: boolean | number | string | undefined,
  rawHost: string | undefined,
): { readonly port: number; readonly host: string } | undefined {
  const text = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
  const off = text === undefined || text === false || text === 'false' || text === 'no';
  if (off) {
    if (rawHost !== undefined) throw badFlag('dashboard-host', rawHost, 'needs --dashboard');
    return undefined;
  }
  let port = DASHBOARD_DEFAULT_PORT;
  if (text !== true && text !== '' && text !== 'true' && text !== 'yes') {
    const value = typeof text === 'number' ? text : /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(value) || value < 0 || value > 65535)
      throw badFlag(
        'dashboard',
        raw,
        `a port from 0 to 65535 (0: any free port), or no value for ${DASHBOARD_DEFAULT_PORT}`,
      );
    port = value;
  }
  const host = rawHost === undefined ? DASHBOARD_DEFAULT_HOST : String(rawHost).trim();
  if (host === '') throw badFlag('dashboard-host', rawHost, 'an address of this machine, e.g. 127.0.0.1');
  return { port, host };
}

/** The flags' help, the same in every command that takes them. */
export const DASHBOARD_DESCRIBE =
  'Serve the report page live while the run goes, at http://127.0.0.1:PORT/ (0: any free port); the page is report.html with charts that grow';
export const DASHBOARD_HOST_DESCRIBE =
  "Address --dashboard listens on; anything but loopback shows the run's data to whoever reaches it";

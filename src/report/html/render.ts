/**
 * report.html as one string: the tables and lists as static HTML (readable without
 * script and in print), the charts drawn by the inlined page script with uPlot from the
 * embedded model. Nothing is fetched: the data sits in the file (deflate-raw + base64 when
 * large, decoded in the page with DecompressionStream) and so do uPlot, the script and
 * the style.
 */
import { deflateRawSync } from 'node:zlib';
import { anomalyRuns } from './anomalies.js';
import type { ReportAssets } from './assets.js';
import type { Deliveries, Propagation, ReportModel, SummaryRow } from './model.js';

/** Model JSON larger than this is compressed into the page. */
export const COMPRESS_ABOVE_BYTES = 64 * 1024;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) =>
    char === '&'
      ? '&amp;'
      : char === '<'
        ? '&lt;'
        : char === '>'
          ? '&gt;'
          : char === '"'
            ? '&quot;'
            : '&#39;',
  );
}

/** Inlined script or style text must not close its element early. */
function inline(text: string, tag: 'script' | 'style'): string {
  return text.replace(new RegExp(`</${tag}`, 'gi'), `<\\/${tag}`);
}

/** Numbers as the page shows them: fixed decimals (the test compares these with the records). */
export function formatNumber(value: number, digits = 2): string {
  return value.toFixed(digits);
}

function failuresCell(row: SummaryRow): string {
  const parts = Object.entries(row.failures)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${escapeHtml(kind)} ${count}`);
  return parts.length === 0 ? '0' : parts.join(', ');
}

function summaryTable(model: ReportModel): string {
  if (model.summary.length === 0) return '<p>No levels.</p>';
  const cell = (row: SummaryRow, field: string, value: string): string =>
    `<td class="num" data-key="${escapeHtml(row.key)}.${field}">${value}</td>`;
  const rows = model.summary.map(
    (row) =>
      `<tr${row.interrupted ? ' class="interrupted"' : ''}><td>${escapeHtml(row.network)}</td><td class="num">${row.level}</td><td class="num">${row.nodes}</td>` +
      cell(row, 'load', formatNumber(row.load, 0)) +
      cell(row, 'throughput', formatNumber(row.throughput)) +
      cell(row, 'efficiency', `${formatNumber(row.efficiency * 100, 1)} %`) +
      cell(row, 'mean', formatNumber(row.mean)) +
      cell(row, 'stddev', formatNumber(row.stddev)) +
      cell(row, 'p50', formatNumber(row.p50)) +
      cell(row, 'p99', formatNumber(row.p99)) +
      cell(row, 'ok', String(row.ok)) +
      `<td data-key="${escapeHtml(row.key)}.failures">${failuresCell(row)}</td>` +
      `<td>${escapeHtml(row.stage)}${row.runs > 1 ? `, ${row.runs} runs` : ''}${row.interrupted ? ', interrupted' : ''}</td></tr>`,
  );
  return (
    '<table class="summary"><thead><tr><th>network</th><th>#</th><th>nodes</th><th>load (tx/s)</th>' +
    '<th>throughput (tx/s)</th><th>efficiency</th><th>mean (ms)</th><th>stddev (ms)</th><th>p50 (ms)</th>' +
    '<th>p99 (ms)</th><th>ok</th><th>failures by kind</th><th>latency of</th></tr></thead><tbody>' +
    rows.join('') +
    '</tbody></table>'
  );
}

function anomaliesList(model: ReportModel): string {
  const items = model.levels.flatMap((level) =>
    anomalyRuns(level.anomalies, level.bands).map(
      (run) =>
        `<li class="anomaly ${run.kind}"><a href="#level-${escapeHtml(level.key)}">${escapeHtml(level.title)}</a>: ${escapeHtml(run.text)}</li>`,
    ),
  );
  if (items.length === 0) {
    return '<p>None: no per-second point stands out (modified z-score over 3.5 from the median and MAD), and no node’s memory only grew across a level of a minute or more.</p>';
  }
  return `<p>Points whose modified z-score, 0.6745 · (x − median) / MAD, passes 3.5; marked ◆ on the charts.</p><ul>${items.join('')}</ul>`;
}

/** Up to this many nodes the page shows a whole node-by-node table (the record keeps every pair). */
export const PAIR_TABLE_MAX_NODES = 16;

function ms(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : formatNumber(value);
}

/**
 * A `[from][to]` table of ms figures (p50 / p99, or one figure), rows the first node, columns
 * the second; `diagonal: false` shows `·` there. Past PAIR_TABLE_MAX_NODES, a line naming
 * where the record keeps every pair.
 */
function pairTable(
  caption: string,
  nodes: readonly string[],
  cell: (from: number, to: number) => string,
  options: { readonly diagonal: boolean; readonly inRecord: string },
): string {
  if (nodes.length > PAIR_TABLE_MAX_NODES)
    return `<p class="note">${nodes.length} nodes: every pair is in the record (${escapeHtml(options.inRecord)}).</p>`;
  const head = nodes.map((node) => `<th>${escapeHtml(node)}</th>`).join('');
  const rows = nodes
    .map(
      (from, i) =>
        `<tr><th>${escapeHtml(from)}</th>${nodes
          .map((_to, j) =>
            i === j && !options.diagonal ? '<td class="num">·</td>' : `<td class="num">${cell(i, j)}</td>`,
          )
          .join('')}</tr>`,
    )
    .join('');
  return `<table class="deliveries"><thead><tr><th>${escapeHtml(caption)}</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

/** A pair table's cell of p50 / p99 matrices (the probes' and the deliveries' alike). */
function percentiles(matrices: {
  readonly p50: readonly (readonly (number | null)[])[];
  readonly p99: readonly (readonly (number | null)[])[];
}): (i: number, j: number) => string {
  return (i, j) => `${ms(matrices.p50[i]?.[j])} / ${ms(matrices.p99[i]?.[j])}`;
}

/** The propagation probes: where a probe was submitted against where it was seen committed; the nodes' peer round trips. */
function propagationSection(propagation: Propagation): string {
  const matrix = pairTable(
    'submitted on → committed on, p50 / p99 ms',
    propagation.nodes,
    percentiles(propagation),
    { diagonal: true, inRecord: 'propagation.pairs' },
  );
  const rtt = propagation.rttMs
    ? pairTable('peer round trip, median ms', propagation.nodes, (i, j) => ms(propagation.rttMs?.[i]?.[j]), {
        diagonal: false,
        inRecord: 'propagation.peer_rtt_ms',
      })
    : '';
  return (
    `<h4>Propagation (probes)</h4><p>${propagation.complete} of ${propagation.sent} probes seen on every watched node` +
    `${propagation.refused > 0 ? `, ${propagation.refused} refused` : ''}; ${escapeHtml(propagation.method)}.</p>${matrix}${rtt}`
  );
}

/** A mesh level's deliveries: the p50 / p99 matrix, each receiver's share, each window's catch-up. */
function deliveriesSection(deliveries: Deliveries): string {
  const matrix = pairTable('origin → receiver, p50 / p99 ms', deliveries.nodes, percentiles(deliveries), {
    diagonal: false,
    inRecord: 'mesh.pairs',
  });
  const receivers = `<table class="deliveries"><thead><tr><th>receiver</th><th>delivered</th><th>missing</th><th>duplicates</th></tr></thead><tbody>${deliveries.receivers
    .map(
      (receiver) =>
        `<tr><th>${escapeHtml(receiver.node)}</th><td class="num">${receiver.ratio === null ? '–' : `${formatNumber(receiver.ratio * 100, 1)} %`}</td><td class="num">${receiver.missing}</td><td class="num">${receiver.duplicates}</td></tr>`,
    )
    .join('')}</tbody></table>`;
  const counts =
    `<p>${deliveries.messages} message${deliveries.messages === 1 ? '' : 's'} delivered, ${deliveries.everywhere} to every node` +
    `${deliveries.neverDelivered ? `; ${deliveries.neverDelivered} accepted publishes never delivered on any node` : ''}.</p>`;
  const windows = deliveries.windows
    .map(
      (window) =>
        `<p>${escapeHtml(window.label)}: ${window.published} published while it was open; per node missing, and caught up after its end: ${window.receivers
          .map(
            (receiver) =>
              `${escapeHtml(receiver.node)} ${receiver.missing}${receiver.resyncMs === null ? '' : `, ${formatNumber(receiver.resyncMs, 0)} ms`}`,
          )
          .join(' · ')}</p>`,
    )
    .join('');
  const note = deliveries.note ? `<p class="note">${escapeHtml(deliveries.note)}</p>` : '';
  const early =
    deliveries.early && deliveries.messages > 0 ? `<p class="note">${escapeHtml(deliveries.early)}</p>` : '';
  return `<h4>Deliveries (mesh)</h4>${note}${counts}${deliveries.messages > 0 ? matrix : ''}${early}${receivers}${windows}`;
}

function levelSection(model: ReportModel): string {
  return model.levels
    .map((level) => {
      const id = escapeHtml(level.key);
      const bands = level.bands
        .map(
          (band) =>
            `<li><span class="swatch ${band.kind}"></span>${escapeHtml(band.label)}: ${formatNumber(band.fromSecs, 1)}–${formatNumber(band.toSecs, 1)} s</li>`,
        )
        .join('');
      const charts = level.series
        ? `<div class="chart" data-chart="throughput" data-level="${id}"></div>` +
          `<div class="chart" data-chart="latency" data-level="${id}"></div>` +
          `<div class="chart" data-chart="total" data-level="${id}"></div>`
        : '<p class="note">No per-second series in this record.</p>';
      const resources = level.resources
        ? `<h4>Resources per node</h4><div class="chart" data-chart="cpu" data-level="${id}"></div><div class="chart" data-chart="memory" data-level="${id}"></div>`
        : '';
      const map = level.map
        ? `<h4>Nodes and links</h4><div class="map" data-level="${id}"><canvas class="map-canvas" width="640" height="400"></canvas>` +
          `<label class="slider">t = <output>0</output> s <input type="range" min="0" max="${level.map.t.length - 1}" value="${level.map.t.length - 1}"></label>` +
          '<p class="legend">links by applied quality: <span class="q good">clean</span> <span class="q fair">some loss or delay</span> <span class="q bad">heavy loss</span> <span class="q down">no link</span></p></div>'
        : '';
      return (
        `<section class="level" id="level-${id}"><h3>${escapeHtml(level.title)}</h3>` +
        (level.sendLag ? `<p class="note">Send lag: ${escapeHtml(level.sendLag)}</p>` : '') +
        (bands ? `<ul class="bands">${bands}</ul>` : '') +
        charts +
        resources +
        map +
        (level.propagation ? propagationSection(level.propagation) : '') +
        (level.deliveries ? deliveriesSection(level.deliveries) : '') +
        '</section>'
      );
    })
    .join('');
}

function configSection(model: ReportModel): string {
  return model.config
    .map(
      (group) =>
        `<h3>${escapeHtml(group.title)}</h3><table class="config"><tbody>${group.rows
          .map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`)
          .join('')}</tbody></table>`,
    )
    .join('');
}

function dataScript(model: ReportModel): string {
  const json = JSON.stringify(model);
  if (Buffer.byteLength(json) <= COMPRESS_ABOVE_BYTES) {
    return `<script type="application/json" id="report-data">${json.replace(/</g, '\\u003c')}</script>`;
  }
  const packed = deflateRawSync(Buffer.from(json), { level: 6 }).toString('base64');
  return `<script type="application/octet-stream" id="report-data" data-encoding="deflate-raw+base64">${packed}</script>`;
}

/** How the page is served: a file (frozen), or the live dashboard (src/report/dashboard/). */
export interface RenderOptions {
  /** The page connects to this same-origin path (server-sent events) and its charts grow. */
  readonly live?: { readonly eventsPath: string };
}

/** The page's header: the title, when and from what it was made, the links to its sections. */
export function renderReportHeader(model: ReportModel, options: RenderOptions = {}): string {
  const findings = model.findings.length > 0;
  const made = options.live
    ? `live: ${model.summary.length} level${model.summary.length === 1 ? '' : 's'} done, updated ${escapeHtml(model.generatedAt)}`
    : `generated ${escapeHtml(model.generatedAt)} from ${model.summary.length} record${model.summary.length === 1 ? '' : 's'}`;
  return `<header><h1>${escapeHtml(model.title)}</h1><p class="meta">${made}</p>
<nav><a href="#summary">summary</a> <a href="#curves">curves</a> <a href="#levels">levels</a>${findings ? ` <a href="#comparison">${escapeHtml(model.findingsTitle.toLowerCase())}</a>` : ''} <a href="#anomalies">anomalies</a> <a href="#config">configuration</a> <a href="#files">files</a></nav></header>`;
}

/** The page's main part: every table and every chart's place (the charts are drawn by page.js). */
export function renderReportMain(model: ReportModel): string {
  const findings =
    model.findings.length > 0
      ? `<section id="comparison"><h2>${escapeHtml(model.findingsTitle)}</h2><ul class="findings">${model.findings.map((finding) => `<li>${escapeHtml(finding)}</li>`).join('')}</ul></section>`
      : '';
  const files = model.files
    .map((file) => `<li><a href="${encodeURI(file)}">${escapeHtml(file)}</a></li>`)
    .join('');
  return `<main>
<section id="summary"><h2>Summary</h2>${summaryTable(model)}</section>
<section id="curves"><h2>Latency against throughput, and against load</h2>
<div class="pair"><div class="chart" data-chart="curve"></div><div class="chart" data-chart="percentiles"></div></div></section>
${findings}
<section id="anomalies"><h2>Anomalies</h2>${anomaliesList(model)}</section>
<section id="levels"><h2>Levels over time</h2><p class="note">Seconds since the level's load started; the warm-up is shaded grey, faults red, network conditions blue. Hover a chart for its values.</p>${levelSection(model)}</section>
<section id="config"><h2>Configuration and environment</h2>${configSection(model)}</section>
<section id="files"><h2>Files</h2><ul>${files}</ul></section>
</main>`;
}

/**
 * The whole page. A file (report.html) is frozen: no request, `connect-src data:`. The live
 * dashboard serves the same page with `data-live` on its body, which makes page.js open
 * the events stream (`connect-src 'self'`) and redraw as snapshots and points arrive.
 */
export function renderReportHtml(
  model: ReportModel,
  assets: ReportAssets,
  options: RenderOptions = {},
): string {
  const live = options.live;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src ${live ? "'self'" : 'data:'}">
<title>${escapeHtml(model.title)}</title>
<style>${inline(assets.uplotCss, 'style')}</style>
<style>${inline(assets.pageCss, 'style')}</style>
</head>
<body${live ? ` data-live="${escapeHtml(live.eventsPath)}"` : ''}>
${renderReportHeader(model, options)}
${renderReportMain(model)}
${dataScript(model)}
<script>${inline(assets.uplotJs, 'script')}</script>
<script>${inline(assets.pageJs, 'script')}</script>
</body>
</html>
`;
}

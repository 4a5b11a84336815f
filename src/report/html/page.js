/* The report page's own script, inlined into report.html after uPlot (src/report/html/render.ts).
 * It reads the embedded model (#report-data: JSON, or deflate-raw + base64 when large) and draws
 * every chart with uPlot, and the node map on a canvas. Plain browser JavaScript, no imports:
 * the page makes no request. When it is done, <body data-rendered="true" data-render-ms="…"
 * data-navigation-ms="…"> (this script's time, and the time since the navigation started).
 * Live (the dashboard, src/report/dashboard/: <body data-live="/events">), it listens to the
 * events stream: a `snapshot` or `final` replaces the header and main part and redraws,
 * a `point` adds a second (counts and latency) to the running level's charts, `resources` a
 * node's sample to its CPU and memory charts, `band` opens or closes a fault or condition
 * window on every chart of the level (and in its list); after `final` it stops listening
 * and is the frozen report. Each chart's holder carries data-points (its x values). */
/* global uPlot, document, window, EventSource */
'use strict';

(function main() {
  const started = performance.now();
  const PALETTE = [
    '#1f77b4',
    '#d62728',
    '#2ca02c',
    '#9467bd',
    '#ff7f0e',
    '#17becf',
    '#8c564b',
    '#e377c2',
    '#7f7f7f',
    '#bcbd22',
  ];
  const colour = (index) =>
    index < PALETTE.length ? PALETTE[index] : `hsl(${(index * 47) % 360}, 65%, 45%)`;
  const plots = [];

  async function readModel() {
    const element = document.getElementById('report-data');
    if (!element) throw new Error('report data missing');
    if (element.dataset.encoding !== 'deflate-raw+base64') return JSON.parse(element.textContent);
    const binary = atob(element.textContent.trim());
    const bytes = new Uint8Array(binary.length);
    for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    return JSON.parse(await new Response(stream).text());
  }

  function widthOf(element) {
    return Math.max(280, Math.floor(element.clientWidth || element.parentElement.clientWidth || 600));
  }

  /** Shaded windows (warm-up, faults, conditions) behind the series, each labelled at the top. */
  function bandsPlugin(bands, warmupSecs) {
    return {
      hooks: {
        drawAxes: [
          (u) => {
            const ctx = u.ctx;
            const top = u.bbox.top;
            const height = u.bbox.height;
            const left = u.bbox.left;
            const right = u.bbox.left + u.bbox.width;
            const all = [];
            if (warmupSecs > 0)
              all.push({ fromSecs: 0, toSecs: warmupSecs, kind: 'warmup', label: 'warm-up' });
            for (const band of bands) all.push(band);
            let row = 0;
            ctx.save();
            ctx.font = `${Math.round(11 * window.devicePixelRatio)}px system-ui, sans-serif`;
            ctx.textBaseline = 'top';
            for (const band of all) {
              const x0 = Math.max(left, u.valToPos(band.fromSecs, 'x', true));
              const x1 = Math.min(right, u.valToPos(band.toSecs, 'x', true));
              if (!(x1 > x0)) continue;
              ctx.fillStyle =
                band.kind === 'fault'
                  ? 'rgba(214, 39, 40, 0.13)'
                  : band.kind === 'condition'
                    ? 'rgba(31, 119, 180, 0.13)'
                    : 'rgba(127, 127, 127, 0.12)';
              ctx.fillRect(x0, top, x1 - x0, height);
              if (band.kind !== 'warmup') {
                ctx.fillStyle = band.kind === 'fault' ? '#a01c1d' : '#174f7a';
                const y = top + 3 + (row % 3) * 14 * window.devicePixelRatio;
                ctx.fillText(band.label, x0 + 3, y, Math.max(40, right - x0 - 6));
                row++;
              }
            }
            ctx.restore();
          },
        ],
      },
    };
  }

  /** Anomalies as diamonds on the series they belong to. */
  function marksPlugin(marks, scaleKey) {
    return {
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            const size = 6 * window.devicePixelRatio;
            ctx.save();
            ctx.fillStyle = '#e6007a';
            ctx.strokeStyle = '#ffffff';
            ctx.lineWidth = window.devicePixelRatio;
            for (const mark of marks) {
              const x = u.valToPos(mark.atSecs, 'x', true);
              const y = u.valToPos(mark.value, scaleKey, true);
              if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
              ctx.beginPath();
              ctx.moveTo(x, y - size);
              ctx.lineTo(x + size, y);
              ctx.lineTo(x, y + size);
              ctx.lineTo(x - size, y);
              ctx.closePath();
              ctx.fill();
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    };
  }

  /** A chart; `refresh` (live) gives its data again after the level's series grew. */
  function chart(element, options, data, refresh) {
    const plot = new uPlot(
      {
        width: widthOf(element),
        height: 240,
        cursor: { drag: { x: true, y: false } },
        legend: { live: true },
        ...options,
      },
      data,
      element,
    );
    plots.push({ plot, element, refresh, level: element.dataset.level });
    element.dataset.points = String(data[0].length);
    return plot;
  }

  const timeAxis = { label: 'time since the load started (s)', stroke: '#333' };
  const valueAxis = (label, size = 60) => ({ label, stroke: '#333', size });
  const line = (label, index, extra = {}) => ({
    label,
    stroke: colour(index),
    width: 1.5,
    spanGaps: false,
    ...extra,
  });
  /** Value axes start at zero, and keep a range when a series has no point at all. */
  const fromZero = { range: (u, min, max) => [0, max != null && max > 0 ? max * 1.08 : 1] };
  const fixed = (digits) => (u, value) => (value == null ? '–' : value.toFixed(digits));

  /** Several x-series on one shared, sorted x (uPlot's aligned data); gaps where a series has no point. */
  function join(curves, xOf, yOf) {
    const xs = [...new Set(curves.flatMap((curve) => curve.points.map(xOf)))].sort((a, b) => a - b);
    const columns = curves.map((curve) =>
      xs.map((x) => {
        const point = curve.points.find((candidate) => xOf(candidate) === x);
        return point ? yOf(point) : null;
      }),
    );
    return { xs, columns };
  }

  function drawCurves(model) {
    const curveElement = document.querySelector('[data-chart="curve"]');
    if (curveElement && model.curves.length > 0) {
      const { xs, columns } = join(
        model.curves,
        (point) => point.throughput,
        (point) => point.mean,
      );
      chart(
        curveElement,
        {
          title: 'Mean latency against throughput (the L-graph)',
          scales: { x: { time: false }, y: fromZero },
          series: [
            { label: 'throughput (tx/s)', value: fixed(2) },
            ...model.curves.map((curve, index) =>
              line(`${curve.name} mean latency (ms)`, index, {
                spanGaps: true,
                points: { show: true, size: 7 },
                value: fixed(2),
              }),
            ),
          ],
          axes: [{ label: 'throughput (tx/s)', stroke: '#333' }, valueAxis('latency (ms)')],
        },
        [xs, ...columns],
      );
    }
    const percentileElement = document.querySelector('[data-chart="percentiles"]');
    if (percentileElement && model.curves.length > 0) {
      const keys = ['p50', 'p90', 'p99'];
      const series = [];
      const data = [];
      const loads = [
        ...new Set(model.curves.flatMap((curve) => curve.points.map((point) => point.load))),
      ].sort((a, b) => a - b);
      model.curves.forEach((curve, curveIndex) => {
        keys.forEach((key, keyIndex) => {
          series.push(
            line(`${curve.name} ${key} (ms)`, curveIndex, {
              dash: keyIndex === 0 ? undefined : keyIndex === 1 ? [6, 3] : [2, 3],
              spanGaps: true,
              points: { show: true, size: 6 },
              value: fixed(2),
            }),
          );
          data.push(
            loads.map((load) => {
              const point = curve.points.find((candidate) => candidate.load === load);
              return point ? point[key] : null;
            }),
          );
        });
      });
      chart(
        percentileElement,
        {
          title: 'Latency percentiles against offered load',
          scales: { x: { time: false }, y: fromZero },
          series: [{ label: 'load (tx/s)', value: fixed(0) }, ...series],
          axes: [{ label: 'offered load (tx/s)', stroke: '#333' }, valueAxis('latency (ms)')],
        },
        [loads, ...data],
      );
    }
  }

  function throughputData(series) {
    return [
      series.t,
      series.sent,
      series.ok,
      series.committed,
      ...(series.arrived ? [series.arrived] : []),
      ...(series.inFlight ? [series.inFlight] : []),
    ];
  }

  function drawLevel(level) {
    const find = (name) => document.querySelector(`[data-chart="${name}"][data-level="${level.key}"]`);
    const bands = bandsPlugin(level.bands, level.warmupSecs);
    const marks = (chartName) => level.anomalies.filter((anomaly) => anomaly.chart === chartName);
    const series = level.series;
    // A running level (live): the axis runs to its planned end, so the lines grow left to right.
    const timeScale = level.untilSecs
      ? { time: false, range: (u, min, max) => [0, Math.max(level.untilSecs, max == null ? 0 : max)] }
      : { time: false };
    if (series) {
      const throughputElement = find('throughput');
      if (throughputElement) {
        chart(
          throughputElement,
          {
            title: 'Throughput per second',
            series: [
              { label: 'time (s)', value: fixed(0) },
              line('sent (tx/s)', 3, { value: fixed(0) }),
              line('ok replies (tx/s)', 0, { value: fixed(0) }),
              line(
                level.stage === 'commit'
                  ? 'committed, by send second (tx/s)'
                  : 'accepted, by send second (tx/s)',
                2,
                { width: 2, value: fixed(0) },
              ),
              ...(series.arrived
                ? [
                    line(level.stage === 'commit' ? 'commits arrived (tx/s)' : 'replies arrived (tx/s)', 4, {
                      width: 2,
                      dash: [5, 3],
                      value: fixed(0),
                    }),
                  ]
                : []),
              ...(series.inFlight ? [line('in flight (tx)', 5, { dash: [2, 3], value: fixed(0) })] : []),
            ],
            axes: [timeAxis, valueAxis('tx/s')],
            scales: { x: timeScale, y: fromZero },
            plugins: [bands, marksPlugin(marks('throughput'), 'y'), marksPlugin(marks('arrived'), 'y')],
          },
          throughputData(series),
          () => throughputData(series),
        );
      }
      const latencyElement = find('latency');
      if (latencyElement) {
        chart(
          latencyElement,
          {
            title: `Latency per second (${level.stage}), by send time`,
            scales: { x: timeScale, y: fromZero },
            series: [
              { label: 'time (s)', value: fixed(0) },
              line('p50 (ms)', 0, { value: fixed(1) }),
              line('p99 (ms)', 1, { value: fixed(1) }),
            ],
            axes: [timeAxis, valueAxis('latency (ms)')],
            plugins: [bands, marksPlugin(marks('latency'), 'y')],
          },
          [series.t, series.p50, series.p99],
          () => [series.t, series.p50, series.p99],
        );
      }
      const totalElement = find('total');
      if (totalElement) {
        chart(
          totalElement,
          {
            title:
              level.stage === 'commit' ? 'Committed transactions so far' : 'Accepted transactions so far',
            scales: { x: timeScale, y: fromZero },
            series: [
              { label: 'time (s)', value: fixed(0) },
              line(level.stage === 'commit' ? 'committed (tx)' : 'accepted (tx)', 2, {
                fill: 'rgba(44,160,44,0.08)',
                value: fixed(0),
              }),
            ],
            axes: [timeAxis, valueAxis('transactions (tx)', 70)],
            plugins: [bands],
          },
          [series.t, series.total],
          () => [series.t, series.total],
        );
      }
    }
    const resources = level.resources;
    if (resources) {
      const cpuElement = find('cpu');
      if (cpuElement) {
        chart(
          cpuElement,
          {
            title: 'CPU per node (100 % = one core)',
            scales: { x: timeScale, y: fromZero },
            series: [
              { label: 'time (s)', value: fixed(1) },
              ...resources.nodes.map((node, index) => line(`${node.id} (%)`, index, { value: fixed(1) })),
            ],
            axes: [timeAxis, valueAxis('CPU (% of a core)')],
            plugins: [bands],
          },
          [resources.t, ...resources.nodes.map((node) => node.cpu)],
          () => [resources.t, ...resources.nodes.map((node) => node.cpu)],
        );
      }
      const memoryElement = find('memory');
      if (memoryElement) {
        const memoryMarks = marks('memory').map((mark) => ({ ...mark, value: mark.value / 1e6 }));
        chart(
          memoryElement,
          {
            title: 'Memory per node (working set)',
            scales: { x: timeScale, y: fromZero },
            series: [
              { label: 'time (s)', value: fixed(1) },
              ...resources.nodes.map((node, index) => line(`${node.id} (MB)`, index, { value: fixed(1) })),
            ],
            axes: [timeAxis, valueAxis('memory (MB)')],
            plugins: [bands, marksPlugin(memoryMarks, 'y')],
          },
          [resources.t, ...resources.nodes.map((node) => node.memoryMb)],
          () => [resources.t, ...resources.nodes.map((node) => node.memoryMb)],
        );
      }
    }
    if (level.map) drawMap(level);
  }

  /** The nodes at their positions (or round a circle by zone) and the links coloured by quality. */
  function drawMap(level) {
    const container = document.querySelector(`.map[data-level="${level.key}"]`);
    if (!container) return;
    const canvas = container.querySelector('canvas');
    const slider = container.querySelector('input');
    const output = container.querySelector('output');
    const map = level.map;
    const names = Object.keys(map.nodes).sort();
    const ratio = window.devicePixelRatio || 1;
    const cssWidth = Math.min(720, widthOf(container));
    const cssHeight = Math.round(cssWidth * 0.6);
    canvas.style.width = `${cssWidth}px`;
    canvas.style.height = `${cssHeight}px`;
    canvas.width = cssWidth * ratio;
    canvas.height = cssHeight * ratio;
    const ctx = canvas.getContext('2d');
    const circle = {};
    if (map.layout !== 'positions') {
      const zones = map.zones || {};
      const ordered = [...names].sort(
        (a, b) => (zones[a] || '').localeCompare(zones[b] || '') || a.localeCompare(b),
      );
      ordered.forEach((name, index) => {
        const angle = (2 * Math.PI * index) / ordered.length - Math.PI / 2;
        circle[name] = [Math.cos(angle), Math.sin(angle)];
      });
    }
    const positionAt = (name, frame) =>
      map.layout === 'positions' && map.nodes[name] && map.nodes[name][frame]
        ? map.nodes[name][frame]
        : circle[name] || [0, 0];
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const name of names) {
      for (let frame = 0; frame < map.t.length; frame++) {
        const [x, y] = positionAt(name, frame);
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
    if (!Number.isFinite(minX)) return;
    const pad = 40 * ratio;
    const spanX = Math.max(1e-9, maxX - minX);
    const spanY = Math.max(1e-9, maxY - minY);
    const scale = Math.min((canvas.width - 2 * pad) / spanX, (canvas.height - 2 * pad) / spanY);
    const toCanvas = ([x, y]) => [pad + (x - minX) * scale, canvas.height - pad - (y - minY) * scale];
    const quality = (link, frame) => {
      if (!link.up[frame]) return { stroke: '#9a9a9a', dash: [4 * ratio, 4 * ratio] };
      const loss = link.loss[frame] || 0;
      const delay = link.delay[frame] || 0;
      const badness = Math.min(1, Math.max(loss / 50, delay / 500));
      return { stroke: `hsl(${Math.round(120 * (1 - badness))}, 75%, 38%)`, dash: [] };
    };
    function render(frame) {
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.lineWidth = 3 * ratio;
      for (const link of map.links) {
        const [x0, y0] = toCanvas(positionAt(link.a, frame));
        const [x1, y1] = toCanvas(positionAt(link.b, frame));
        const style = quality(link, frame);
        ctx.strokeStyle = style.stroke;
        ctx.setLineDash(style.dash);
        ctx.beginPath();
        ctx.moveTo(x0, y0);
        ctx.lineTo(x1, y1);
        ctx.stroke();
      }
      ctx.setLineDash([]);
      ctx.font = `${Math.round(12 * ratio)}px system-ui, sans-serif`;
      names.forEach((name, index) => {
        const [x, y] = toCanvas(positionAt(name, frame));
        ctx.fillStyle = colour(index);
        ctx.beginPath();
        ctx.arc(x, y, 9 * ratio, 0, 2 * Math.PI);
        ctx.fill();
        ctx.fillStyle = '#111';
        const zone = map.zones && map.zones[name] ? ` (${map.zones[name]})` : '';
        ctx.fillText(`${name}${zone}`, x + 12 * ratio, y - 10 * ratio);
      });
      if (map.layout === 'positions') {
        ctx.fillStyle = '#555';
        ctx.fillText(
          `positions in metres; ${spanX.toFixed(0)} × ${spanY.toFixed(0)} m shown`,
          8 * ratio,
          canvas.height - 8 * ratio,
        );
      }
      output.textContent = String(map.t[frame]);
    }
    slider.addEventListener('input', () => render(Number(slider.value)));
    render(Number(slider.value));
  }

  function resizeAll(width) {
    for (const { plot, element } of plots) plot.setSize({ width: width || widthOf(element), height: 240 });
  }

  let current;

  function drawAll(model) {
    current = model;
    drawCurves(model);
    for (const level of model.levels) drawLevel(level);
  }

  /** A snapshot (or the final report): the server-rendered header and main part, and their charts. */
  function applySnapshot(snapshot) {
    for (const { plot } of plots) plot.destroy();
    plots.length = 0;
    const header = document.querySelector('header');
    const main = document.querySelector('main');
    if (header) header.outerHTML = snapshot.header;
    if (main) main.outerHTML = snapshot.main;
    document.title = snapshot.model.title;
    drawAll(snapshot.model);
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
  }

  /** The running level's charts take their (grown) data again, and redraw their bands. */
  function refreshLevel(key) {
    for (const entry of plots) {
      if (entry.level !== key) continue;
      if (!entry.refresh) {
        entry.plot.redraw(false, false);
        continue;
      }
      const data = entry.refresh();
      entry.plot.setData(data);
      entry.element.dataset.points = String(data[0].length);
    }
  }

  const levelOf = (key) => current && current.levels.find((candidate) => candidate.key === key);

  /** One second more of the running level: its series grow, its open bands stretch, its charts redraw. */
  function addPoint(point) {
    const level = levelOf(point.level);
    if (!level || !level.series) return;
    const series = level.series;
    const values = {
      t: point.t,
      sent: point.sent,
      ok: point.ok,
      committed: point.committed,
      total: point.total,
      inFlight: point.inFlight,
      p50: point.p50 === undefined ? null : point.p50,
      p99: point.p99 === undefined ? null : point.p99,
    };
    for (const [name, value] of Object.entries(values)) {
      if (!series[name]) continue;
      series[name].push(value);
      if (series[name].length > point.keep) series[name].splice(0, series[name].length - point.keep);
    }
    for (const band of level.bands) if (band.open) band.toSecs = Math.max(band.toSecs, point.t);
    refreshLevel(point.level);
  }

  /** A node's resource sample at its slot (as the server places it: dashboard.ts, placeResourceSample). */
  function addResources(sample) {
    const level = levelOf(sample.level);
    const resources = level && level.resources;
    const node = resources && resources.nodes.find((candidate) => candidate.id === sample.node);
    if (!node) return; // a node the page has no line for: a snapshot with it follows
    let index = resources.t.length - 1;
    while (index >= 0 && resources.t[index] > sample.t) index--;
    if (index < 0 || resources.t[index] !== sample.t) {
      index++;
      resources.t.splice(index, 0, sample.t);
      for (const other of resources.nodes) {
        other.cpu.splice(index, 0, null);
        other.memoryMb.splice(index, 0, null);
      }
    }
    node.cpu[index] = sample.cpu;
    node.memoryMb[index] = sample.memoryMb;
    const drop = resources.t.length - sample.keep;
    if (drop > 0) {
      resources.t.splice(0, drop);
      for (const other of resources.nodes) {
        other.cpu.splice(0, drop);
        other.memoryMb.splice(0, drop);
      }
    }
    refreshLevel(sample.level);
  }

  /** The level's list of windows under its title, as the server renders it (render.ts, levelSection). */
  function listBands(level) {
    const section = document.getElementById(`level-${level.key}`);
    if (!section) return;
    let list = section.querySelector('ul.bands');
    if (!list) {
      list = document.createElement('ul');
      list.className = 'bands';
      const title = section.querySelector('h3');
      if (title) title.after(list);
      else section.prepend(list);
    }
    list.replaceChildren(
      ...level.bands.map((band) => {
        const item = document.createElement('li');
        const swatch = document.createElement('span');
        swatch.className = `swatch ${band.kind}`;
        const until = band.open ? 'now' : `${band.toSecs.toFixed(1)} s`;
        item.append(swatch, `${band.label}: ${band.fromSecs.toFixed(1)} s – ${until}`);
        return item;
      }),
    );
  }

  /** A fault or condition window opens (toSecs null) or closes on the running level. */
  function setBand(event) {
    const level = levelOf(event.level);
    if (!level) return;
    const last = level.series && level.series.t.length > 0 ? level.series.t[level.series.t.length - 1] : 0;
    const band = {
      id: event.id,
      kind: event.kind,
      label: event.label,
      fromSecs: event.fromSecs,
      toSecs: event.toSecs === null ? Math.max(event.fromSecs, last) : event.toSecs,
      open: event.toSecs === null,
    };
    // In place: the charts' band plug-in holds this very array.
    const index = level.bands.findIndex((candidate) => candidate.id === event.id);
    if (index >= 0) level.bands[index] = band;
    else level.bands.push(band);
    listBands(level);
    refreshLevel(event.level);
    document.body.dataset.bands = String(Number(document.body.dataset.bands || 0) + 1);
  }

  function listen(path) {
    const status = document.createElement('p');
    status.className = 'live-status';
    status.textContent = 'live: connecting …';
    document.body.prepend(status);
    const source = new EventSource(path);
    const read = (handler) => (event) => handler(JSON.parse(event.data));
    source.addEventListener('open', () => {
      status.textContent = 'live: the charts grow as the run goes';
    });
    source.addEventListener('snapshot', read(applySnapshot));
    source.addEventListener('point', read(addPoint));
    source.addEventListener('resources', read(addResources));
    source.addEventListener('band', read(setBand));
    source.addEventListener(
      'final',
      read((snapshot) => {
        source.close();
        applySnapshot(snapshot);
        status.textContent = 'the run has ended: this is its report';
        document.body.dataset.live = 'ended';
      }),
    );
    source.addEventListener('error', () => {
      if (document.body.dataset.live === 'ended') return;
      // EventSource retries by itself; the run may have ended without a last event (a forced exit).
      status.textContent = 'live: the run is not answering (ended, or not reachable); retrying …';
    });
  }

  async function start() {
    const model = await readModel();
    document.body.dataset.decodeMs = String(Math.round(performance.now() - started));
    drawAll(model);
    if (document.body.dataset.live) listen(document.body.dataset.live);
    let pending = 0;
    window.addEventListener('resize', () => {
      window.clearTimeout(pending);
      pending = window.setTimeout(() => resizeAll(), 150);
    });
    window.addEventListener('beforeprint', () => resizeAll(660));
    window.addEventListener('afterprint', () => resizeAll());
    // uPlot commits its drawing in a microtask: wait for the next frame, so every chart is on screen.
    await new Promise((resolve) => window.requestAnimationFrame(() => resolve(undefined)));
    document.body.dataset.renderMs = String(Math.round(performance.now() - started));
    // performance.now() counts from the navigation's start: load, parse and draw together.
    document.body.dataset.navigationMs = String(Math.round(performance.now()));
    document.body.dataset.rendered = 'true';
  }

  start().catch((error) => {
    const note = document.createElement('p');
    note.className = 'error';
    note.textContent = `The charts could not be drawn: ${error && error.message ? error.message : String(error)}`;
    document.body.prepend(note);
    document.body.dataset.rendered = 'error';
    throw error;
  });
})();

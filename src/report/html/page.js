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
 * and is the frozen report. Each chart's holder carries data-points (its x values). The drawing
 * helpers and the node map are page-draw.js, inlined before this (its global `meshbenchDraw`). */
/* global uPlot, document, window, EventSource, meshbenchDraw */
'use strict';

(function main() {
  const started = performance.now();
  const { widthOf, bandsPlugin, marksPlugin, timeAxis, valueAxis, line, fromZero, fixed, join, drawMap } =
    meshbenchDraw;
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

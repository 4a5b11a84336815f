/* The report page's drawing helpers, inlined into report.html before page.js (assets.ts): the
 * colours, the uPlot plug-ins that shade fault and condition windows and mark anomalies, the
 * axes and series shapes every chart shares, aligning several curves on one x, and the node
 * map on a canvas. Plain browser JavaScript: it defines one global, `meshbenchDraw`, which
 * page.js reads; nothing here keeps state or touches the page until called. */
/* global window, document */
'use strict';

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- read by page.js, the next script
const meshbenchDraw = (function drawing() {
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

  return {
    colour,
    widthOf,
    bandsPlugin,
    marksPlugin,
    timeAxis,
    valueAxis,
    line,
    fromZero,
    fixed,
    join,
    drawMap,
  };
})();

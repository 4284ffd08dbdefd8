// A small SVG chart of the last hour: finished jobs per minute as bars (completed over failed)
// and the queue depth as a line on its own scale. No library: sixty bars and one polyline.
const NS = 'http://www.w3.org/2000/svg';
const W = 600,
  H = 170,
  LEFT = 30,
  RIGHT = 34,
  TOP = 10,
  BOTTOM = 22;

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round upper bound for an axis (1, 2, 5, 10, 20, 50 …). */
function niceMax(value) {
  if (value <= 1) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

export function drawChart(container, history) {
  const n = history.completed.length;
  const done = history.completed.map((c, i) => c + history.failed[i]);
  const doneMax = niceMax(Math.max(...done));
  const queueMax = niceMax(Math.max(...history.queueDepth));
  const plotW = W - LEFT - RIGHT,
    plotH = H - TOP - BOTTOM;
  const x = (i) => LEFT + (i * plotW) / n;
  const barW = Math.max(1, plotW / n - 2);
  const yDone = (v) => TOP + plotH - (v / doneMax) * plotH;
  const yQueue = (v) => TOP + plotH - (v / queueMax) * plotH;

  const svg = el('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': 'Jobs finished per minute and queue depth over the last hour',
  });
  // Gridlines at 0, the middle (when both axes have a whole number there) and the top.
  const fractions = doneMax % 2 === 0 && queueMax % 2 === 0 ? [0, 0.5, 1] : [0, 1];
  for (const f of fractions) {
    const y = TOP + plotH - f * plotH;
    svg.append(el('line', { x1: LEFT, x2: W - RIGHT, y1: y, y2: y, stroke: '#e9ecf1' }));
    svg.append(
      el(
        'text',
        { x: LEFT - 5, y: y + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#1f9d55' },
        String(Math.round(doneMax * f)),
      ),
    );
    svg.append(
      el(
        'text',
        { x: W - RIGHT + 5, y: y + 4, 'font-size': 10, fill: '#2456d6' },
        String(Math.round(queueMax * f)),
      ),
    );
  }
  for (let i = 0; i < n; i++) {
    const ok = history.completed[i],
      bad = history.failed[i];
    if (ok > 0)
      svg.append(
        el('rect', {
          x: x(i) + 1,
          y: yDone(ok),
          width: barW,
          height: yDone(0) - yDone(ok),
          fill: '#1f9d55',
          rx: 1,
        }),
      );
    if (bad > 0)
      svg.append(
        el('rect', {
          x: x(i) + 1,
          y: yDone(ok + bad),
          width: barW,
          height: yDone(ok) - yDone(ok + bad),
          fill: '#d33a3a',
          rx: 1,
        }),
      );
  }
  const points = history.queueDepth
    .map((q, i) => `${(x(i) + barW / 2 + 1).toFixed(1)},${yQueue(q).toFixed(1)}`)
    .join(' ');
  svg.append(
    el('polyline', {
      points,
      fill: 'none',
      stroke: '#2456d6',
      'stroke-width': 2,
      'stroke-linejoin': 'round',
    }),
  );
  for (const [i, label] of [
    [0, '−60 min'],
    [30, '−30 min'],
    [n - 1, 'now'],
  ]) {
    svg.append(
      el(
        'text',
        {
          x: x(i) + barW / 2,
          y: H - 6,
          'text-anchor': i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle',
          'font-size': 10,
          fill: '#5f6b7a',
        },
        label,
      ),
    );
  }

  const legend = document.createElement('div');
  legend.className = 'legend';
  const total = (list) => list.reduce((a, b) => a + b, 0);
  for (const [color, text] of [
    ['#1f9d55', `completed ${total(history.completed)}`],
    ['#d33a3a', `failed ${total(history.failed)}`],
    ['#2456d6', 'queue depth (peak per minute)'],
  ]) {
    const item = document.createElement('span');
    const key = document.createElement('span');
    key.className = 'key';
    key.style.background = color;
    item.append(key, text);
    legend.append(item);
  }
  container.replaceChildren(svg, legend);
}

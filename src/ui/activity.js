// @ts-nocheck -- browser code: the project's tsconfig type-checks src/ with Node's libs only.
/**
 * The Activity panel: the newest metered requests (`GET /api/metrics/activity`), newest first,
 * and a chart of generation speed (tokens/s) per model over them. Refreshed when the event
 * stream says a row was added (`activity` `{id}`, at most every 250 ms), since the event
 * carries only the id, as llama-swap's does.
 *
 * The statechart module (chart.js) draws machine definitions, not series: this draws its own
 * small SVG line chart.
 */

const SVG = 'http://www.w3.org/2000/svg';
/** Rows fetched and shown: the chart's window too. */
const LIMIT = 50;
const PALETTE = ['#2f6fde', '#1f9d63', '#d99a00', '#d93f3f', '#6a5acd', '#e8710a', '#0f9fb5', '#b5489e'];

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
};
const svg = (tag, attrs) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
};

/** A speed or count as shown: unknown (-1) is a dash. */
const num = (v, digits = 0) => (typeof v !== 'number' || v < 0 ? '–' : v.toFixed(digits));
const ms = (v) => (v >= 10_000 ? `${(v / 1000).toFixed(1)}s` : `${v}ms`);
const clock = (iso) => new Date(iso).toLocaleTimeString();

function renderTable(tbody, rows) {
  tbody.replaceChildren(
    ...rows.map((r) => {
      const tr = el('tr', r.resp_status_code === 200 ? '' : 'failed');
      tr.dataset.testid = `activity-row-${r.id}`;
      const cells = [
        clock(r.timestamp),
        r.model,
        r.req_path,
        String(r.resp_status_code),
        num(r.tokens.input_tokens),
        num(r.tokens.output_tokens),
        num(r.tokens.prompt_per_second, 1),
        num(r.tokens.tokens_per_second, 1),
        ms(r.duration_ms),
      ];
      for (const [i, text] of cells.entries()) {
        const td = el('td', i >= 3 ? 'n' : '', text);
        if (i === 3 && r.error_msg) td.title = r.error_msg;
        tr.append(td);
      }
      return tr;
    }),
  );
  if (!rows.length) {
    const tr = el('tr', 'empty');
    const td = el('td', null, 'no requests yet');
    td.colSpan = 9;
    tr.append(td);
    tbody.append(tr);
  }
}

/** Generation speed per model, oldest left; one line (and dots) per model. */
function renderChart(box, rows) {
  const points = rows.filter((r) => r.tokens.tokens_per_second > 0).reverse();
  const W = 600;
  const H = 160;
  const PAD = { l: 40, r: 8, t: 8, b: 18 };
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'activity-svg', role: 'img' });
  chart.dataset.testid = 'activity-chart';
  chart.setAttribute('aria-label', 'generation speed (tokens/s) per model');
  const max = Math.max(1, ...points.map((r) => r.tokens.tokens_per_second));
  const x = (i) => PAD.l + (points.length < 2 ? (W - PAD.l - PAD.r) / 2 : (i * (W - PAD.l - PAD.r)) / (points.length - 1));
  const y = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  chart.append(svg('line', { x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b, class: 'axis' }));
  for (const v of [0, max / 2, max]) {
    const t = svg('text', { x: PAD.l - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' });
    t.textContent = v.toFixed(0);
    chart.append(t);
  }
  const models = [...new Set(points.map((r) => r.model))].sort();
  const legend = el('div', 'legend');
  for (const [k, model] of models.entries()) {
    const color = PALETTE[k % PALETTE.length];
    const mine = points.map((r, i) => [i, r]).filter(([, r]) => r.model === model);
    const g = svg('g', { class: 'series', 'data-model': model });
    g.dataset.testid = `activity-series-${model}`;
    if (mine.length > 1) {
      g.append(svg('polyline', { points: mine.map(([i, r]) => `${x(i)},${y(r.tokens.tokens_per_second)}`).join(' '), stroke: color, fill: 'none', 'stroke-width': 2 }));
    }
    for (const [i, r] of mine) {
      const dot = svg('circle', { cx: x(i), cy: y(r.tokens.tokens_per_second), r: 3, fill: color });
      const title = svg('title', {});
      title.textContent = `${model}: ${r.tokens.tokens_per_second.toFixed(1)} tokens/s (#${r.id})`;
      dot.append(title);
      g.append(dot);
    }
    chart.append(g);
    const key = el('span', 'key', model);
    key.style.setProperty('--c', color);
    legend.append(key);
  }
  box.replaceChildren(chart, legend);
  if (!points.length) box.append(el('div', 'empty', 'no generation speeds yet'));
}

/**
 * @param parts {{ rows: HTMLElement, chart: HTMLElement }}
 * @returns {{ refresh(): Promise<void>, event(): void }}
 */
export function createActivity(parts) {
  let timer = null;
  let running = null;
  async function refresh() {
    try {
      const res = await fetch(`/api/metrics/activity?limit=${LIMIT}&from=ui`);
      if (!res.ok) return;
      const page = await res.json();
      renderTable(parts.rows, page.data ?? []);
      renderChart(parts.chart, page.data ?? []);
      parts.rows.dataset.loaded = 'true';
    } catch {
      /* server away: the next event or reconnect refreshes */
    }
  }
  return {
    refresh() {
      running = refresh();
      return running;
    },
    /** A row was added: refresh soon, once for a burst of rows. */
    event() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        refresh();
      }, 250);
    },
  };
}

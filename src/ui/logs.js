// @ts-nocheck -- browser code: the project's tsconfig type-checks src/ with Node's libs only.
/**
 * The log view. Proxy and upstream logs arrive on the event stream (`logData`) and are kept
 * whether shown or not; a model's log is read from `GET /logs/stream/<id>` (history first,
 * then live chunks) only while it is selected, and the request is aborted when switching.
 * Without the event stream (polling mode) proxy and upstream are streamed the same way.
 *
 * In "upstream (all models)" every line starts with the model that wrote it (`a | ...`):
 * the server's upstream chunks say which model they come from (`model`, and `spans` for the
 * history), while the log itself, as `/logs` serves it, stays raw like llama-swap's.
 */

const MAX_CHARS = 200_000; // a long-running server's log must not grow the page forever

/** Asks the server to write our own requests at DEBUG in its access log (see access-log.ts). */
const FROM_UI = 'from=ui';

/**
 * Prefixes each line of one model's output with its id. Chunks end anywhere, so the line
 * in progress is remembered: a chunk that continues it gets no second prefix, and another
 * model's chunk arriving meanwhile starts a line of its own rather than splicing into it.
 */
export function createPrefixer() {
  let open = null; // the model whose line is unfinished, or null at a line start
  return {
    add(model, text) {
      if (!model) return text; // no owner known: as it came
      let out = '';
      if (open !== null && open !== model) out += '\n';
      if (open !== model) open = null;
      const lines = text.split('\n');
      lines.forEach((line, i) => {
        const last = i === lines.length - 1;
        if (last && line === '') return; // the text ended with its line
        if (open === null) out += `${model} | `;
        out += line;
        if (last) open = model;
        else {
          out += '\n';
          open = null;
        }
      });
      return out;
    },
    reset() {
      open = null;
    },
  };
}

export function createLogs(view, select) {
  const buffers = { proxy: '', upstream: '' };
  const prefixer = createPrefixer();
  let polling = false; // no event stream: proxy and upstream are streamed like models
  let source = 'proxy';
  let stream = null; // AbortController of the open /logs/stream request

  const clip = (s) => (s.length > MAX_CHARS ? s.slice(s.length - MAX_CHARS) : s);

  function append(text) {
    // Follow the tail only when the reader is already at the bottom.
    const atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - 8;
    view.textContent = clip(view.textContent + text);
    if (atBottom) view.scrollTop = view.scrollHeight;
  }

  async function follow(name) {
    const ctl = new AbortController();
    stream = ctl;
    try {
      const res = await fetch(`/logs/stream/${encodeURIComponent(name)}?${FROM_UI}`, { signal: ctl.signal });
      if (!res.ok) return append(`(${res.status} ${await res.text()})\n`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        append(decoder.decode(value, { stream: true }));
      }
    } catch (err) {
      if (!ctl.signal.aborted) append(`(log stream failed: ${err.message})\n`);
    }
  }

  function show(name) {
    source = name;
    stream?.abort();
    stream = null;
    view.textContent = '';
    if (!polling && name in buffers) append(buffers[name]);
    else follow(name);
  }

  select.addEventListener('change', () => show(select.value));

  /** The upstream text of a `logData` message, each line prefixed with its model. */
  function upstreamText({ data, model, spans }) {
    if (Array.isArray(spans)) {
      let at = 0;
      return spans.map(([m, length]) => prefixer.add(m, data.slice(at, (at += length)))).join('') + data.slice(at);
    }
    return prefixer.add(model, data);
  }

  return {
    /** A `logData` event. */
    event(msg) {
      const from = msg.source;
      if (!(from in buffers)) return;
      const data = from === 'upstream' ? upstreamText(msg) : msg.data;
      buffers[from] = clip(buffers[from] + data);
      if (!polling && source === from) append(data);
    },
    /** The event stream (re)opened: its history messages follow, so forget ours. */
    reset() {
      buffers.proxy = '';
      buffers.upstream = '';
      prefixer.reset();
      if (!polling && source in buffers) view.textContent = '';
    },
    /** Polling mode (no event stream): proxy and upstream switch to /logs/stream. */
    setPolling(on) {
      if (on === polling) return;
      polling = on;
      if (source in buffers) show(source);
    },
    /** Offers proxy, upstream and every model; keeps the selection. */
    setModels(ids) {
      const want = ['proxy', 'upstream', ...ids];
      const have = [...select.options].map((o) => o.value);
      if (want.join('\n') === have.join('\n')) return;
      select.replaceChildren(...want.map((id) => new Option(id === 'upstream' ? 'upstream (all models)' : id, id)));
      select.value = want.includes(source) ? source : 'proxy';
      if (!have.length) show(select.value);
    },
  };
}

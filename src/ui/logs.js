// @ts-nocheck -- browser code: the project's tsconfig type-checks src/ with Node's libs only.
/**
 * The log view. Proxy and upstream logs arrive on the event stream (`logData`) and are kept
 * whether shown or not; a model's log is read from `GET /logs/stream/<id>` (history first,
 * then live chunks) only while it is selected, and the request is aborted when switching.
 * Without the event stream (polling mode) proxy and upstream are streamed the same way.
 */

const MAX_CHARS = 200_000; // a long-running server's log must not grow the page forever

export function createLogs(view, select) {
  const buffers = { proxy: '', upstream: '' };
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
      const res = await fetch(`/logs/stream/${encodeURIComponent(name)}`, { signal: ctl.signal });
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

  return {
    /** A `logData` event. */
    event({ source: from, data }) {
      if (!(from in buffers)) return;
      buffers[from] = clip(buffers[from] + data);
      if (!polling && source === from) append(data);
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

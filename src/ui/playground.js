// @ts-nocheck -- browser code: the project's tsconfig type-checks src/ with Node's libs only.
/**
 * The playground: one chat message to a chosen model with `stream: true`, the reply's SSE
 * `data:` lines parsed as OpenAI chunks and each token appended as it arrives. The send
 * button stops the stream while one is running.
 */

export function createPlayground({ form, model, input, send, output }) {
  let running = null; // AbortController of the request under way

  /** Appends the content of one `data:` payload; true at `[DONE]`. */
  function onData(payload) {
    if (payload === '[DONE]') return true;
    try {
      const chunk = JSON.parse(payload);
      if (chunk.error) output.textContent += `\n[error] ${chunk.error.message ?? JSON.stringify(chunk.error)}`;
      const choice = chunk.choices?.[0];
      output.textContent += choice?.delta?.content ?? choice?.text ?? '';
    } catch {
      /* a keep-alive or a partial line: nothing to show */
    }
    return false;
  }

  async function chat() {
    const ctl = new AbortController();
    running = ctl;
    send.textContent = 'Stop';
    output.textContent = '';
    output.classList.remove('error');
    try {
      const res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: model.value, stream: true, messages: [{ role: 'user', content: input.value }] }),
        signal: ctl.signal,
      });
      if (!res.ok) {
        output.classList.add('error');
        output.textContent = `${res.status}: ${await res.text()}`;
        return;
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let pending = ''; // a line split across network chunks
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += decoder.decode(value, { stream: true });
        const lines = pending.split('\n');
        pending = lines.pop();
        for (const line of lines) {
          if (line.startsWith('data:') && onData(line.slice(5).trim())) return;
        }
      }
    } catch (err) {
      if (!ctl.signal.aborted) {
        output.classList.add('error');
        output.textContent += `\n[${err.message}]`;
      }
    } finally {
      if (running === ctl) running = null;
      send.textContent = 'Send';
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (running) return running.abort();
    if (model.value) chat();
  });
  // Enter sends, Shift+Enter is a new line.
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  return {
    /** The models on offer; keeps the selection. */
    setModels(ids) {
      const have = [...model.options].map((o) => o.value);
      if (ids.join('\n') === have.join('\n')) return;
      const keep = model.value;
      model.replaceChildren(...ids.map((id) => new Option(id, id)));
      if (ids.includes(keep)) model.value = keep;
    },
  };
}

// @ts-nocheck -- browser code: the project's tsconfig type-checks src/ with Node's libs only.
/**
 * Draws a machine definition (`GET /api/machines/process`) as nested boxes: one box per
 * state, children inside their parent, the initial child marked, and each state's outgoing
 * transitions listed in it. Nothing here names a process state, so a state added to the
 * machine appears by itself. What is shown of it (closed, lit path, whole) is CSS on the
 * classes set here, so lighting a new state needs no redraw.
 */

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

/** The last segment of a target path: siblings and parents read better by key. */
const shortTarget = (path) => path.split('.').pop() || '(root)';

function box(node, parent) {
  const b = el('div', `state ${node.type}`);
  b.dataset.state = node.path;
  const head = el('div', 'state-head');
  if (parent?.initial === node.key) head.append(el('span', 'initial', '●'));
  head.append(el('span', 'state-name', node.key));
  for (const tag of node.tags) head.append(el('span', 'tag', tag));
  b.append(head);

  // Only transitions that change state are drawn; targetless ones just run actions.
  const moves = node.transitions.filter((t) => t.targets.length > 0);
  if (moves.length) {
    const ul = el('ul', 'transitions');
    for (const t of moves) {
      const li = el('li');
      li.append(el('span', 'event', t.label));
      if (t.guard) li.append(el('span', 'guard', `[${t.guard}]`));
      li.append(document.createTextNode(` → ${t.targets.map(shortTarget).join(', ')}`));
      li.title = `${t.event || 'always'}${t.guard ? ` [${t.guard}]` : ''} → ${t.targets.join(', ')}`;
      ul.append(li);
    }
    b.append(ul);
  }
  if (node.states.length) {
    const kids = el('div', `children ${node.type === 'parallel' ? 'parallel' : ''}`);
    for (const child of node.states) kids.append(box(child, node));
    b.append(kids);
  }
  return b;
}

/**
 * A chart of `machine` for one model, closed: a `<details>` whose summary names the model and
 * its current state, opened on demand. Open, it shows only the lit path (the current state
 * and its ancestors, with their transitions: what can happen next) until its button asks for
 * the whole chart; the full chart of every model took most of the page.
 */
export function renderChart(machine, model) {
  const card = el('details', 'chart lit-only');
  card.dataset.testid = `chart-${model}`;
  const title = el('summary', 'chart-title');
  title.dataset.testid = `chart-open-${model}`;
  title.append(el('span', 'chart-model', model), el('span', 'chart-value'));
  const whole = el('button', 'chart-whole', 'Show the whole chart');
  whole.type = 'button';
  whole.dataset.testid = `chart-whole-${model}`;
  whole.onclick = () => {
    const litOnly = card.classList.toggle('lit-only');
    whole.textContent = litOnly ? 'Show the whole chart' : 'Show the lit path only';
  };
  const tools = el('div', 'chart-tools');
  tools.append(whole);
  const kids = el('div', 'children top');
  for (const child of machine.root.states) kids.append(box(child, machine.root));
  card.append(title, tools, kids);
  return card;
}

/**
 * Lights the active states: every leaf of `value` (`running.ready.busy`, comma-separated
 * for parallel regions) and all its ancestors get the class `active`.
 */
export function lightChart(card, value, phase) {
  card.dataset.phase = phase;
  card.querySelector('.chart-value').textContent = value;
  const lit = new Set();
  for (const leaf of value.split(',')) {
    const parts = leaf.split('.');
    for (let i = 1; i <= parts.length; i++) lit.add(parts.slice(0, i).join('.'));
  }
  for (const b of card.querySelectorAll('.state')) {
    b.classList.toggle('active', lit.has(b.dataset.state));
  }
}

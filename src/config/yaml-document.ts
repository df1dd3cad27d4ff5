/**
 * YAML text to a `yaml` Document, as `parseDocument` does it, with a check between parsing and
 * composing: how deep collections nest.
 *
 * `yaml`'s parser keeps its own stack, but its composer recurses once per level: 1 000 nested
 * `[` already overflow the call stack, and at 20 000 V8 aborts the whole process (out of
 * memory in its RegExp compiler) instead of throwing. A config is never nested that deep, so
 * a document that is stops before it is composed.
 */
import { Composer, CST, Parser, YAMLParseError, type Document, type LineCounter } from 'yaml';

export type ComposeResult = { doc: Document } | { tooDeepAt: number };

/**
 * Parses `text` (one document; a second one is an error, as with `parseDocument`).
 *
 * @returns the document, or the offset of the first collection nested deeper than `maxDepth`.
 */
export function composeYaml(text: string, lineCounter: LineCounter, maxDepth: number): ComposeResult {
  const tokens = [...new Parser(lineCounter.addNewLine).parse(text)];
  const tooDeepAt = firstTooDeep(tokens, maxDepth);
  if (tooDeepAt !== null) return { tooDeepAt };

  // Duplicate keys are found by the tree builder: `yaml`'s own check compares every key with
  // every other one, which takes seconds for a mapping of 20 000 keys.
  const composer = new Composer({ prettyErrors: false, merge: true, uniqueKeys: false });
  let doc: Document | null = null;
  for (const next of composer.compose(tokens, true, text.length)) {
    if (!doc) {
      doc = next;
      continue;
    }
    // parseDocument's own error, word for word.
    const message = 'Source contains multiple documents; please use YAML.parseAllDocuments()';
    doc.errors.push(new YAMLParseError([next.range[0], next.range[1]], 'MULTIPLE_DOCS', message));
    break;
  }
  // compose(..., forceDoc = true) always yields at least one document.
  return { doc: doc! };
}

/** The offset of the first collection deeper than `maxDepth` (the top level is depth 1), or null. */
function firstTooDeep(tokens: readonly CST.Token[], maxDepth: number): number | null {
  // An explicit stack: the point is not to recurse once per level.
  const pending: Array<[CST.Token, number]> = [];
  for (const token of tokens) if (token.type === 'document' && token.value) pending.push([token.value, 1]);
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [token, depth] = next;
    if (!CST.isCollection(token)) continue;
    if (depth > maxDepth) return token.offset;
    for (const item of token.items) {
      if (item.key) pending.push([item.key, depth + 1]);
      if (item.value) pending.push([item.value, depth + 1]);
    }
  }
  return null;
}

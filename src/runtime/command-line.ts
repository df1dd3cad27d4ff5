/**
 * Turning a configured `cmd` / `cmdStop` string into an argv, the way llama-swap does.
 *
 * Commands are never run through a shell: a shell would add a process between us and the
 * server (so signals would hit the shell, not the server) and would make configs depend on
 * whichever `/bin/sh` the host has. So we only borrow the shell's *word splitting* rules,
 * and everything else a shell does (variables, globs, pipes, `&&`, redirections) is left out:
 * those characters are ordinary word characters here.
 */

/**
 * Splits a llama-swap `cmd` into an argv, without any shell.
 *
 * 1. Lines whose trimmed text starts with `#` are dropped (YAML block scalars in configs are
 *    commonly commented this way).
 * 2. A line ending in an unescaped backslash continues on the next line: as in llama-swap,
 *    the backslash becomes a space and the line break stays, so `--flag \` + newline +
 *    `value` gives two words and an inline `# comment` still ends at its line. (Unlike
 *    llama-swap, an escaped backslash `\\` at the end of a line is a literal backslash.)
 * 3. The result is split with POSIX shell word rules:
 *    - space, tab, carriage return and newline separate words;
 *    - single quotes are literal up to the next single quote;
 *    - inside double quotes a backslash escapes only `\`, `"`, `$`, `` ` `` and newline
 *      (an escaped newline disappears); before any other character it stays a backslash;
 *    - outside quotes a backslash makes the next character literal (an escaped newline
 *      disappears);
 *    - an unquoted `#` at the start of a word starts a comment up to the end of the line
 *      (POSIX, and what llama-swap's shlex does, so `--port 8080  # note` keeps working);
 *    - `""` and `''` are empty words.
 *
 * There is no expansion of any kind: `$HOME`, `*`, `a|b`, `x&&y` stay as written.
 *
 * @throws Error on an unterminated quote, or when no word is left (empty command).
 */
export function parseCommand(cmd: string): string[] {
  const words = splitWords(joinLines(cmd));
  if (words.length === 0) {
    throw new Error('empty command (nothing left after removing comments and whitespace)');
  }
  return words;
}

/**
 * Replaces every `${PID}` in a `cmdStop` with the upstream's pid. Done on the raw string,
 * before {@link parseCommand}, as llama-swap does, so `${PID}` also works inside quotes.
 */
export function substitutePid(cmdStop: string, pid: number): string {
  return cmdStop.replaceAll('${PID}', String(pid));
}

/** Step 1 and 2: drop comment lines, join continued lines. */
function joinLines(cmd: string): string {
  const kept: string[] = [];
  for (const line of cmd.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) continue;
    if (endsWithOddBackslashes(trimmed)) {
      kept.push(trimmed.slice(0, -1) + ' ');
    } else {
      kept.push(line);
    }
  }
  return kept.join('\n');
}

/** True when the text ends in a backslash that is not itself escaped. */
function endsWithOddBackslashes(text: string): boolean {
  let count = 0;
  for (let i = text.length - 1; i >= 0 && text[i] === '\\'; i--) count++;
  return count % 2 === 1;
}

const WHITESPACE = new Set([' ', '\t', '\r', '\n']);
/** Characters a backslash escapes inside double quotes (POSIX). */
const DQUOTE_ESCAPABLE = new Set(['\\', '"', '$', '`', '\n']);

/** Step 3: POSIX word splitting, no expansions. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  // A word exists once any character or quote was seen, so `""` yields an empty word.
  let inWord = false;
  let i = 0;

  const finishWord = (): void => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };

  while (i < text.length) {
    const ch = text[i] as string;

    if (WHITESPACE.has(ch)) {
      finishWord();
      i++;
      continue;
    }

    if (ch === '#' && !inWord) {
      // Comment to end of line; the newline itself still separates words.
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? text.length : nl;
      continue;
    }

    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) {
        throw new Error(`unterminated single quote in command at offset ${i}: ${excerpt(text, i)}`);
      }
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
      continue;
    }

    if (ch === '"') {
      const start = i;
      i++;
      inWord = true;
      let closed = false;
      while (i < text.length) {
        const c = text[i] as string;
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '\\' && i + 1 < text.length && DQUOTE_ESCAPABLE.has(text[i + 1] as string)) {
          const next = text[i + 1] as string;
          if (next !== '\n') word += next; // backslash-newline is a line continuation
          i += 2;
          continue;
        }
        word += c;
        i++;
      }
      if (!closed) {
        throw new Error(`unterminated double quote in command at offset ${start}: ${excerpt(text, start)}`);
      }
      continue;
    }

    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined) {
        // A lone trailing backslash: nothing to escape, keep it literally.
        word += '\\';
        inWord = true;
        i++;
        continue;
      }
      if (next !== '\n') {
        word += next;
        inWord = true;
      }
      i += 2;
      continue;
    }

    word += ch;
    inWord = true;
    i++;
  }
  finishWord();
  return words;
}

/** A short piece of the command for error messages. */
function excerpt(text: string, at: number): string {
  const piece = text.slice(at, at + 40).replace(/\n/g, '\\n');
  return text.length > at + 40 ? `${piece}...` : piece;
}

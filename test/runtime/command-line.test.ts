import { describe, expect, it } from 'vitest';
import { parseCommand, substitutePid } from '../../src/runtime/command-line.ts';

describe('parseCommand', () => {
  it('splits on spaces, tabs and newlines', () => {
    expect(parseCommand('llama-server  --port\t8080\n--host 127.0.0.1')).toEqual([
      'llama-server',
      '--port',
      '8080',
      '--host',
      '127.0.0.1',
    ]);
  });

  it('drops lines whose trimmed text starts with #', () => {
    const cmd = ['# a comment', 'llama-server', '   # indented comment', '  --port 9000', '#--ctx-size 4096'].join('\n');
    expect(parseCommand(cmd)).toEqual(['llama-server', '--port', '9000']);
  });

  it('treats an unquoted # at the start of a word as a comment to the end of the line', () => {
    expect(parseCommand('server --port 1 # the port\n--x a#b "#c"')).toEqual(['server', '--port', '1', '--x', 'a#b', '#c']);
  });

  it('joins lines ending in a backslash (YAML-style continuation), as separate words', () => {
    const cmd = 'llama-server \\\n  --model /m.gguf \\\n  --port 8080\\\n--ctx 1';
    expect(parseCommand(cmd)).toEqual(['llama-server', '--model', '/m.gguf', '--port', '8080', '--ctx', '1']);
  });

  it('handles CRLF line endings', () => {
    expect(parseCommand('a \\\r\n b\r\n# c\r\nd')).toEqual(['a', 'b', 'd']);
  });

  it('an escaped backslash at the end of a line is a literal backslash, not a continuation', () => {
    expect(parseCommand('echo a\\\\\nb')).toEqual(['echo', 'a\\', 'b']);
  });

  it('keeps single-quoted text literal', () => {
    expect(parseCommand(`echo 'a  b' '\\n "x" $HOME'`)).toEqual(['echo', 'a  b', '\\n "x" $HOME']);
  });

  it('applies backslash escapes in double quotes only before \\ " $ ` and newline', () => {
    expect(parseCommand('echo "a \\"b\\" \\\\ \\$X \\` \\n C:\\dir"')).toEqual(['echo', 'a "b" \\ $X ` \\n C:\\dir']);
  });

  it('a continuation inside double quotes keeps the newline, as in llama-swap', () => {
    // Step 2 replaces the trailing backslash with a space but keeps the line break (so an
    // inline `# comment` still ends at the line's end); inside quotes the break is text.
    expect(parseCommand('x "a\\\nb"')).toEqual(['x', 'a \nb']);
    expect(parseCommand('x # note \\\ny')).toEqual(['x', 'y']);
  });

  it('applies backslash escapes outside quotes', () => {
    expect(parseCommand('echo a\\ b \\"q\\" \\$HOME \\\\')).toEqual(['echo', 'a b', '"q"', '$HOME', '\\']);
  });

  it('concatenates adjacent quoted and unquoted parts into one word', () => {
    expect(parseCommand(`--arg=pre'single'"double"post`)).toEqual(['--arg=presingledoublepost']);
  });

  it('keeps empty quoted words', () => {
    expect(parseCommand(`cmd "" ''`)).toEqual(['cmd', '', '']);
  });

  it('does no expansion: $VAR, globs, pipes and && stay literal', () => {
    expect(parseCommand('run $HOME ${PORT} "$USER" *.gguf a|b x&&y > out ; z')).toEqual([
      'run',
      '$HOME',
      '${PORT}',
      '$USER',
      '*.gguf',
      'a|b',
      'x&&y',
      '>',
      'out',
      ';',
      'z',
    ]);
  });

  it('keeps newlines inside quotes', () => {
    expect(parseCommand(`node -e 'console.log(1)\nconsole.log(2)'`)).toEqual(['node', '-e', 'console.log(1)\nconsole.log(2)']);
  });

  it('throws on an unterminated single quote', () => {
    expect(() => parseCommand("echo 'abc")).toThrow(/unterminated single quote/);
  });

  it('throws on an unterminated double quote', () => {
    expect(() => parseCommand('echo "abc')).toThrow(/unterminated double quote/);
    expect(() => parseCommand('echo "abc\\"')).toThrow(/unterminated double quote/);
  });

  it('throws on an empty command', () => {
    expect(() => parseCommand('')).toThrow(/empty command/);
    expect(() => parseCommand('  \n\t ')).toThrow(/empty command/);
    expect(() => parseCommand('# only\n  # comments')).toThrow(/empty command/);
  });
});

describe('substitutePid', () => {
  it('replaces every ${PID}', () => {
    expect(substitutePid('kill -TERM ${PID}; echo "${PID}" $PID', 4242)).toBe('kill -TERM 4242; echo "4242" $PID');
  });

  it('leaves a command without ${PID} unchanged', () => {
    expect(substitutePid('docker stop my-model', 1)).toBe('docker stop my-model');
  });
});

/**
 * llama-swap's command line (reference 1.1), with one or two dashes and `--flag value` or
 * `--flag=value`, plus swapstate's own flags.
 */

export interface CliArgs {
  config: string | null;
  configDir: string | null;
  listen: string | null;
  watchConfig: boolean;
  version: boolean;
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  help: boolean;
  inspect: string | null;
  /** `--check-config`: validate the config, print what would run, exit 0/1; never listen. */
  checkConfig: boolean;
}

const VALUE_FLAGS = {
  config: 'config',
  'config-dir': 'configDir',
  listen: 'listen',
  'tls-cert-file': 'tlsCertFile',
  'tls-key-file': 'tlsKeyFile',
  inspect: 'inspect',
} as const;
const BOOL_FLAGS = {
  'watch-config': 'watchConfig',
  version: 'version',
  help: 'help',
  h: 'help',
  'check-config': 'checkConfig',
} as const;

export class CliError extends Error {}

export function parseArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = {
    config: null,
    configDir: null,
    listen: null,
    watchConfig: false,
    version: false,
    tlsCertFile: null,
    tlsKeyFile: null,
    help: false,
    inspect: null,
    checkConfig: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--?([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new CliError(`unexpected argument: ${arg}`);
    const name = m[1] as string;
    const inline = m[2];
    if (name in VALUE_FLAGS) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new CliError(`flag needs an argument: -${name}`);
      out[VALUE_FLAGS[name as keyof typeof VALUE_FLAGS]] = value;
    } else if (name in BOOL_FLAGS) {
      const v = inline === undefined ? true : !['false', '0', 'f', 'F', 'FALSE', 'False'].includes(inline);
      out[BOOL_FLAGS[name as keyof typeof BOOL_FLAGS]] = v;
    } else {
      throw new CliError(`flag provided but not defined: -${name}`);
    }
  }
  return out;
}

/** `host:port` as Go accepts it: `:8080` (all interfaces), `[::1]:8080`, `localhost:8080`. */
export function parseListen(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new CliError(`invalid listen address "${addr}": expected host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new CliError(`invalid listen address "${addr}": bad port`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '::' : host, port };
}

/** Whether a listen host only reaches this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export const USAGE = `usage: swapstate --config <file> [--config-dir <dir>] [--listen host:port] [--watch-config]
                 [--tls-cert-file <file> --tls-key-file <file>] [--version]
       swapstate --check-config --config <file> [--config-dir <dir>]

  --config <file>        llama-swap config.yaml
  --config-dir <dir>     also every *.yml / *.yaml directly in <dir>, merged in name order after
                         --config (either flag alone will do)
  --check-config         validate the config and print what would run (models, commands,
                         ports, groups, warnings); exit 0 if valid, 1 if not. Starts nothing
  --listen host:port     address to serve on (default 127.0.0.1:8080, 127.0.0.1:8443 with TLS)
  --watch-config         reload the config when a config file changes (also on SIGHUP)
  --tls-cert-file, --tls-key-file   serve HTTPS (both required)
  --inspect off|log|ws://host:port   XState inspection of the actor tree (default: config key inspect, else off)
  --version              print the version and exit
`;

/**
 * The client's address, for the access log and the in-flight tracker: the connection's peer,
 * unless `trustProxy` says which proxies in front of swapstate may tell us better through
 * `X-Forwarded-For`, with Express's `trust proxy` semantics (proxy-addr, which Express uses).
 *
 * llama-swap takes the first `X-Forwarded-For` entry (else `X-Real-IP`) from anyone, so any
 * client could write what it liked into the access log, including quotes that forged the
 * rest of the line. Here a header is believed only from a trusted hop.
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config/types.ts';

/** Whether the hop at `addr`, `i` hops from us, may name the one before it. */
type Trust = (addr: string, i: number) => boolean;

const trustNobody: Trust = () => false;
const compiled = new WeakMap<Config, Trust>();

/** Express's compileTrust: true, a hop count, or addresses/subnets/names (`loopback`, ...). */
export function compileTrust(setting: Config['trustProxy']): Trust {
  if (setting === true) return () => true;
  if (setting === false) return trustNobody;
  if (typeof setting === 'number') return (_addr, i) => i < setting;
  return setting.length === 0 ? trustNobody : proxyaddr.compile(setting);
}

function trustOf(config: Config): Trust {
  let trust = compiled.get(config);
  if (!trust) {
    trust = compileTrust(config.trustProxy);
    compiled.set(config, trust);
  }
  return trust;
}

/**
 * The host a request was addressed to: its `Host` header, or the first `X-Forwarded-Host`
 * when the connection's peer is a trusted proxy (a reverse proxy in front of swapstate may
 * rewrite `Host` to reach us), as Express's `req.host` under `trust proxy`.
 */
export function requestHost(req: IncomingMessage, config: Config): string {
  const forwarded = req.headers['x-forwarded-host'];
  if (typeof forwarded === 'string' && forwarded !== '') {
    const trust = trustOf(config);
    if (trust !== trustNobody && trust(req.socket.remoteAddress ?? '', 0)) return forwarded.split(',')[0]!.trim();
  }
  return req.headers.host ?? '';
}

/** Addresses already worked out: the access log asks at the start, the tracker later. */
const known = new WeakMap<IncomingMessage, string>();

/**
 * The client address of `req` under `config`'s `trustProxy`, worked out once per request
 * (once a client has gone, its socket no longer knows the peer's address).
 */
export function clientAddress(req: IncomingMessage, config: Config): string {
  let address = known.get(req);
  if (address === undefined) {
    const trust = trustOf(config);
    address = trust === trustNobody ? (req.socket.remoteAddress ?? '') : proxyaddr(req, trust);
    known.set(req, address);
  }
  return address;
}

/**
 * The part of `proxy-addr` (Express's own dependency for its `trust proxy` setting; it ships
 * no types) that swapstate uses.
 */
declare module 'proxy-addr' {
  import type { IncomingMessage } from 'node:http';

  /** Whether the address at hop `i` (0 = the socket's peer) is trusted. */
  type TrustFunction = (address: string, i: number) => boolean;

  /** The client address: the furthest hop reachable through trusted proxies. */
  function proxyaddr(req: IncomingMessage, trust: TrustFunction | string | string[]): string;

  namespace proxyaddr {
    /**
     * Compiles addresses, CIDR ranges (`10.0.0.0/8`, `10.0.0.0/255.0.0.0`) and the names
     * `loopback`, `linklocal`, `uniquelocal` into a trust function.
     *
     * @throws TypeError `invalid IP address: x`, `invalid range on address: x`.
     */
    function compile(trust: string | string[]): TrustFunction;
    /** Every address of the request, the socket's first, stopping after the first untrusted one. */
    function all(req: IncomingMessage, trust?: TrustFunction | string | string[]): string[];
  }

  export = proxyaddr;
}

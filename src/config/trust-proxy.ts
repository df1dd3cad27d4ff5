/**
 * `trustProxy` (swapstate's own key): which proxies may tell swapstate the client's address in
 * `X-Forwarded-For`, with the semantics of Express's `trust proxy` setting, so the value can
 * be handed to Express (or to `proxy-addr`) as is:
 *
 * - absent or `false`: trust nothing, the client is the socket's peer (the default);
 * - `true`: trust every hop, the client is the left-most `X-Forwarded-For` address;
 * - an integer n: trust the n hops nearest to swapstate;
 * - addresses, CIDR ranges and the names `loopback`, `linklocal`, `uniquelocal`, as a list or
 *   one comma-separated string: trust hops from those addresses.
 *
 * Every address is compiled at load (with `proxy-addr`, Express's own parser), so a typo fails
 * the config instead of the first request.
 */
import proxyAddr from 'proxy-addr';
import { describeValue, type Field } from './field.ts';
import type { JsonSchema } from './schema-shapes.ts';

/** The decoded setting: a boolean, a hop count, or addresses (a string is split at commas). */
export type TrustProxy = boolean | number | string[];

/** `trustProxy` in config-schema.json. */
export const TRUST_PROXY_SCHEMA: JsonSchema = {
  description:
    "swapstate: Express's `trust proxy`: true (every hop), a number of hops, or addresses, CIDR ranges and loopback/linklocal/uniquelocal (a list or one comma-separated string) whose X-Forwarded-For gives the client address.",
  default: false,
  anyOf: [{ type: ['boolean', 'string', 'null'] }, { type: 'integer', minimum: 0 }, { type: 'array', items: { type: ['string', 'number', 'boolean', 'null'] } }],
};

/**
 * @example decodeTrustProxy(field of 'trustProxy: "loopback, 10.0.0.0/8"') // ['loopback', '10.0.0.0/8']
 * @throws ConfigError `trustProxy: invalid address "x"` (`trustProxy[i]: ...` in a list).
 */
export function decodeTrustProxy(field: Field): TrustProxy {
  if (!field.isSet) return false;
  const value = field.value;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    const hops = field.int(0);
    if (hops < 0) field.fail(`${field.name}: a number of hops must be >= 0, got ${hops}`);
    return hops;
  }
  if (typeof value === 'string') {
    // Express splits a string at commas and trims each part.
    const addresses = value.split(',').map((part) => part.trim());
    for (const address of addresses) checkAddress(address, field);
    return addresses;
  }
  if (Array.isArray(value)) {
    return field.items().map((item) => {
      const address = item.string();
      checkAddress(address, item);
      return address;
    });
  }
  field.fail(`${field.name}: expected true, false, a number of hops or addresses, got ${describeValue(value)}`);
}

function checkAddress(address: string, field: Field): void {
  try {
    proxyAddr.compile(address);
  } catch {
    field.fail(`${field.name}: invalid address ${JSON.stringify(address)}`);
  }
}

import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Destination policy (docs/api.md, Destinations): with private URLs disallowed, endpoints
 * must be https and must not be, or resolve to, an address that reaches the
 * machine itself or its private network. The same check runs when a
 * subscription is saved and at every connection, so that a DNS answer that
 * changes later cannot turn a delivery into a request to an internal service.
 */
const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 96], // unspecified and the deprecated IPv4-compatible form
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d, in any spelling). */
function mappedIPv4(address: string): string | undefined {
  const parsed = ipaddr.IPv6.parse(address);
  return parsed.isIPv4MappedAddress() ? parsed.toIPv4Address().toString() : undefined;
}

/** True for loopback, private, link-local, multicast, reserved and documentation addresses, in any IPv6 form. */
export function isBlockedAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family !== 6) return true;
  const v4 = mappedIPv4(bare);
  if (v4) return blocked.check(v4, 'ipv4');
  return blocked.check(bare, 'ipv6');
}

export class DestinationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationError';
  }
}

export interface DestinationPolicy {
  allowPrivate: boolean;
}

/**
 * Checks an endpoint URL against the policy, resolving its host name.
 * Throws DestinationError with a message fit for the user.
 */
export async function checkDestination(url: URL, policy: DestinationPolicy): Promise<void> {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new DestinationError('must be an http or https URL');
  }
  if (policy.allowPrivate) return;
  if (url.protocol !== 'https:') throw new DestinationError('must use https');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    if (isBlockedAddress(host)) throw new DestinationError(`must not point to a private or reserved address (${host})`);
    return;
  }
  let addresses: Array<{ address: string }>;
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch {
    throw new DestinationError(`host ${host} does not resolve`);
  }
  const bad = addresses.find((a) => isBlockedAddress(a.address));
  if (bad) throw new DestinationError(`host ${host} resolves to a private or reserved address (${bad.address})`);
}

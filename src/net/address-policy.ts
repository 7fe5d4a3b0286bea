import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Destination policy (docs/api.md, Destinations): with private URLs disallowed, endpoints must be https
 * and must be, and resolve to, global unicast addresses only. The same check
 * runs when a subscription is saved and at every connection (on the address
 * actually connected to), so that a DNS answer that changes later cannot
 * turn a delivery into a request to an internal service.
 *
 * IPv4: everything in the IANA IPv4 special-purpose registry is refused.
 * IPv6: only 2000::/3 (global unicast) minus its special-purpose blocks is
 * allowed; the forms that carry an IPv4 address (mapped ::ffff:0:0/96,
 * NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32)
 * are judged by that IPv4 address, since a translator or relay would
 * deliver the request to it. SIIT's IPv4-translated ::ffff:0:0:0/96 and the
 * deprecated IPv4-compatible ::/96 are refused outright.
 */
const blockedV4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.31.196.0', 24], // AS112
  ['192.52.193.0', 24], // AMT
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['192.175.48.0', 24], // direct delegation AS112
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blockedV4.addSubnet(network, prefix, 'ipv4');
}

const globalV6 = new BlockList();
globalV6.addSubnet('2000::', 3, 'ipv6');
/** Special-purpose blocks inside 2000::/3 (IANA IPv6 special-purpose registry), Teredo and 6to4 aside. */
const blockedGlobalV6 = new BlockList();
for (const [network, prefix] of [
  ['2001::', 23], // IETF protocol assignments: benchmarking, ORCHID, AMT, …
  ['2001:db8::', 32], // documentation
  ['2620:4f:8000::', 48], // AS112
  ['3fff::', 20], // documentation
] as const) {
  blockedGlobalV6.addSubnet(network, prefix, 'ipv6');
}

function inPrefix(bytes: number[], prefix: number[], bits: number): boolean {
  for (let bit = 0; bit < bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((bytes[bit >> 3]! & mask) !== (prefix[bit >> 3]! & mask)) return false;
  }
  return true;
}

const v4 = (bytes: number[], xor = 0) => bytes.map((b) => (b ^ xor) & 0xff).join('.');
const NAT64 = ipaddr.IPv6.parse('64:ff9b::').toByteArray();
const NAT64_LOCAL = ipaddr.IPv6.parse('64:ff9b:1::').toByteArray();
const SIXTO4 = ipaddr.IPv6.parse('2002::').toByteArray();
const TEREDO = ipaddr.IPv6.parse('2001::').toByteArray();

/**
 * The IPv4 addresses an IPv6 address stands for (empty when it embeds none).
 * Local-use NAT64 may embed the address in either RFC 6052 layout that a
 * /48 allows, so both are judged.
 */
function embeddedIPv4(bytes: number[]): string[] | undefined {
  if (inPrefix(bytes, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96)) return [v4(bytes.slice(12))]; // mapped
  if (inPrefix(bytes, NAT64, 96)) return [v4(bytes.slice(12))];
  if (inPrefix(bytes, NAT64_LOCAL, 48)) return [v4([...bytes.slice(6, 8), ...bytes.slice(9, 11)]), v4(bytes.slice(12))];
  if (inPrefix(bytes, SIXTO4, 16)) return [v4(bytes.slice(2, 6))];
  if (inPrefix(bytes, TEREDO, 32)) return [v4(bytes.slice(12), 0xff)]; // the client's address, inverted
  return undefined;
}

/**
 * ipaddr.js reads any trailing dotted quad as IPv4-mapped (::8.8.8.8 becomes
 * ::ffff:8.8.8.8), so the quad is turned into hex groups first.
 */
function parseIPv6(address: string): ipaddr.IPv6 {
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (!quad) return ipaddr.IPv6.parse(address);
  const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
  const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  return ipaddr.IPv6.parse(address.slice(0, quad.index) + hex);
}

/** True unless the address is a global unicast destination, in any spelling of IPv4 or IPv6. */
export function isBlockedAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return blockedV4.check(bare, 'ipv4');
  if (family !== 6) return true;
  const parsed = parseIPv6(bare);
  const embedded = embeddedIPv4(parsed.toByteArray());
  if (embedded) return embedded.some((inner) => blockedV4.check(inner, 'ipv4'));
  const normal = parsed.toNormalizedString();
  return !globalV6.check(normal, 'ipv6') || blockedGlobalV6.check(normal, 'ipv6');
}

export class DestinationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationError';
  }
}

export interface DestinationPolicy {
  allowPrivate: boolean;
  /**
   * Every address of a host name. The API resolves with the delivery
   * workers' resolver (c-ares with a deadline, not dns.lookup on libuv's
   * four shared threads), so a nameserver that never answers delays only
   * the save that asked; a lookup that times out throws an error whose code
   * is EAI_AGAIN.
   */
  resolve: (host: string) => Promise<ReadonlyArray<{ address: string }>>;
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
    if (isBlockedAddress(host)) throw new DestinationError('must point to a public (global unicast) address, not a private or reserved one');
    return;
  }
  let addresses: ReadonlyArray<{ address: string }>;
  try {
    addresses = await policy.resolve(host);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EAI_AGAIN') {
      throw new DestinationError(`the DNS lookup of host ${host} timed out; check the name and its nameservers, then save again`);
    }
    throw new DestinationError(`host ${host} does not resolve`);
  }
  // The address itself stays out of the message: it would tell a tenant what an internal name resolves to.
  if (addresses.some((a) => isBlockedAddress(a.address))) {
    throw new DestinationError(`host ${host} resolves to a private or reserved address`);
  }
}

import { describe, expect, it } from 'vitest';
import { DeliveryDns } from '../../src/delivery-engine/dns.js';
import { checkDestination, isBlockedAddress } from '../../src/net/address-policy.js';

describe('isBlockedAddress', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '0.0.0.0',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '198.18.0.1',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::ffff:10.0.0.1',
    '[::1]',
    'fe80::1%eth0',
  ])('blocks %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });

  it.each([
    ['NAT64 of the metadata address', '64:ff9b::a9fe:a9fe'],
    ['NAT64 of 10.0.0.1', '64:ff9b::a00:1'],
    ['NAT64 in dotted form', '64:ff9b::127.0.0.1'],
    ['local-use NAT64, /96 layout', '64:ff9b:1::a00:1'],
    ['local-use NAT64, /48 layout', '64:ff9b:1:a00:1:0:0:0'],
    ['6to4 of 10.0.0.1', '2002:a00:1::1'],
    ['6to4 of the metadata address', '2002:a9fe:a9fe::'],
    ['Teredo whose client is 10.0.0.1 (inverted)', '2001:0:4136:e378:8000:63bf:f5ff:fffe'],
    ['Teredo whose client is 127.0.0.1', '2001:0:4136:e378:8000:63bf:80ff:fffe'],
    ['SIIT IPv4-translated', '::ffff:0:a00:1'],
    ['SIIT IPv4-translated of a public address', '::ffff:0:808:808'],
    ['IPv4-compatible', '::8.8.8.8'],
    ['discard', '100::1'],
    ['documentation', '2001:db8::1'],
    ['documentation (3fff::/20)', '3fff::1'],
    ['IETF protocol assignments', '2001:2::1'],
    ['ORCHIDv2', '2001:20::1'],
    ['AS112', '2620:4f:8000::1'],
    ['outside 2000::/3', '4000::1'],
    ['AMT relay IPv4', '192.52.193.1'],
    ['AS112 IPv4', '192.175.48.1'],
    ['broadcast', '255.255.255.255'],
  ])('blocks %s (%s)', (_what, address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each([
    ['NAT64 of a public address', '64:ff9b::808:808'],
    ['6to4 of a public address', '2002:808:808::1'],
    ['Teredo whose client is 8.8.8.8 (inverted)', '2001:0:4136:e378:8000:63bf:f7f7:f7f7'],
    ['global unicast', '2a00:1450:4001:80b::200e'],
  ])('allows %s (%s)', (_what, address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });

  it('treats anything that is not an address as blocked', () => {
    expect(isBlockedAddress('localhost')).toBe(true);
  });
});

describe('checkDestination', () => {
  const resolve = (host: string) => new DeliveryDns({ timeoutMs: 2_000 }).resolve(host);
  const strict = { allowPrivate: false, resolve };
  it('allows anything http(s) when private URLs are allowed', async () => {
    await expect(checkDestination(new URL('http://127.0.0.1:9/x'), { allowPrivate: true, resolve })).resolves.toBeUndefined();
  });
  it('refuses other schemes in any mode', async () => {
    await expect(checkDestination(new URL('ftp://example.com/'), { allowPrivate: true, resolve })).rejects.toThrow(/http or https/);
  });
  it('requires https and public addresses in strict mode', async () => {
    await expect(checkDestination(new URL('http://8.8.8.8/'), strict)).rejects.toThrow(/https/);
    await expect(checkDestination(new URL('https://169.254.169.254/latest'), strict)).rejects.toThrow(/private or reserved/);
    await expect(checkDestination(new URL('https://[::ffff:127.0.0.1]/'), strict)).rejects.toThrow(/private or reserved/);
    await expect(checkDestination(new URL('https://localhost/'), strict)).rejects.toThrow(/resolves to a private or reserved address/);
    await expect(checkDestination(new URL('https://8.8.8.8/'), strict)).resolves.toBeUndefined();
  });
  it('never names the address that a host name resolved to', async () => {
    const error = await checkDestination(new URL('https://localhost/'), strict).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toMatch(/127\.0\.0\.1|::1/);
  });
});

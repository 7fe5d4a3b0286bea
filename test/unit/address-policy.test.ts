import { describe, expect, it } from 'vitest';
import { checkDestination, isBlockedAddress } from '../../src/net/address-policy.js';

describe('isBlockedAddress', () => {
  it.each([
    '127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '0.0.0.0', '100.64.0.1', '224.0.0.1', '255.255.255.255', '198.18.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:10.0.0.1', '[::1]', 'fe80::1%eth0',
  ])('blocks %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });

  it('treats anything that is not an address as blocked', () => {
    expect(isBlockedAddress('localhost')).toBe(true);
  });
});

describe('checkDestination', () => {
  const strict = { allowPrivate: false };
  it('allows anything http(s) when private URLs are allowed', async () => {
    await expect(checkDestination(new URL('http://127.0.0.1:9/x'), { allowPrivate: true })).resolves.toBeUndefined();
  });
  it('refuses other schemes in any mode', async () => {
    await expect(checkDestination(new URL('ftp://example.com/'), { allowPrivate: true })).rejects.toThrow(/http or https/);
  });
  it('requires https and public addresses in strict mode', async () => {
    await expect(checkDestination(new URL('http://8.8.8.8/'), strict)).rejects.toThrow(/https/);
    await expect(checkDestination(new URL('https://169.254.169.254/latest'), strict)).rejects.toThrow(/private or reserved/);
    await expect(checkDestination(new URL('https://[::ffff:127.0.0.1]/'), strict)).rejects.toThrow(/private or reserved/);
    await expect(checkDestination(new URL('https://localhost/'), strict)).rejects.toThrow(/resolves to a private or reserved address/);
    await expect(checkDestination(new URL('https://8.8.8.8/'), strict)).resolves.toBeUndefined();
  });
});

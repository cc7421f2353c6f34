import { describe, expect, it } from 'vitest';
import { isPrivateAddress, privateAddressesOf } from '../../../src/upload/address-check.ts';
import { fetchImage } from '../../../src/upload/fetch-image.ts';

describe('isPrivateAddress', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', 'fc00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '[::1]', 'not-an-ip'])(
    '%s is refused',
    (address) => {
      expect(isPrivateAddress(address)).toBe(true);
    },
  );

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is public', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('privateAddressesOf', () => {
  it('checks every address a name resolves to', async () => {
    const resolve = async () => ['93.184.216.34', '10.0.0.5'];
    expect(await privateAddressesOf('images.example.com', resolve)).toEqual(['10.0.0.5']);
    expect(await privateAddressesOf('127.0.0.1')).toEqual(['127.0.0.1']);
  });
});

describe('fetchImage and private addresses', () => {
  const options = { allowedHosts: ['images.example.com', '127.0.0.1'], timeoutMs: 1000, maxBytes: 100 };

  it('refuses an allow-listed name that resolves to a private address, before connecting', async () => {
    await expect(fetchImage('http://images.example.com/a.png', { ...options, resolveHost: async () => ['169.254.169.254'] })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'Fetching images from images.example.com is not allowed: it resolves to a private, loopback or link-local address',
      details: { field: 'image.url', host: 'images.example.com' },
    });
    await expect(fetchImage('http://127.0.0.1:1/a.png', options)).rejects.toMatchObject({ message: expect.stringContaining('private, loopback or link-local') });
  });

  it('lets IMAGE_URL_ALLOW_PRIVATE through (then the connection itself fails here)', async () => {
    await expect(fetchImage('http://127.0.0.1:1/a.png', { ...options, allowPrivateAddresses: true })).rejects.toMatchObject({ message: expect.stringMatching(/^Could not fetch http:\/\/127\.0\.0\.1:1\/a\.png: /) });
  });
});

import { describe, expect, it } from 'vitest';
import { fetchImage, isHostAllowed } from '../../../src/upload/fetch-image.ts';

describe('image URL allow-list', () => {
  it('matches exact hosts and *.suffix wildcards, case-insensitively', () => {
    const allowed = ['images.example.com', '*.cdn.example.org'];
    expect(isHostAllowed('images.example.com', allowed)).toBe(true);
    expect(isHostAllowed('IMAGES.example.com.', allowed)).toBe(true);
    expect(isHostAllowed('a.cdn.example.org', allowed)).toBe(true);
    expect(isHostAllowed('a.b.cdn.example.org', allowed)).toBe(true);
    expect(isHostAllowed('cdn.example.org', allowed)).toBe(false);
    expect(isHostAllowed('evilcdn.example.org', allowed)).toBe(false);
    expect(isHostAllowed('images.example.com.evil.net', allowed)).toBe(false);
    expect(isHostAllowed('169.254.169.254', allowed)).toBe(false);
  });

  it('refuses everything when no host is allowed, without any network access', async () => {
    await expect(fetchImage('http://169.254.169.254/latest/meta-data', { allowedHosts: [], timeoutMs: 1000, maxBytes: 100 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/^Fetching images by url is disabled on this server/),
    });
    await expect(fetchImage('https://user:pw@images.example.com/a.png', { allowedHosts: ['images.example.com'], timeoutMs: 1000, maxBytes: 100 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'Expected an image.url without user name or password',
    });
  });
});

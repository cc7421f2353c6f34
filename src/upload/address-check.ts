import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Address ranges a server must not be made to fetch from on a client's behalf (SSRF): "this network", private
 * (RFC 1918, unique-local), shared (CGNAT), loopback, link-local (cloud metadata services live at 169.254.169.254),
 * documentation and benchmarking ranges, multicast and reserved.
 */
const BLOCKED = (() => {
  const list = new BlockList();
  const v4: Array<[string, number]> = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ];
  const v6: Array<[string, number]> = [
    ['::', 128],
    ['::1', 128],
    ['64:ff9b::', 96],
    ['100::', 64],
    ['2001:db8::', 32],
    ['fc00::', 7],
    ['fe80::', 10],
    ['ff00::', 8],
  ];
  for (const [network, prefix] of v4) list.addSubnet(network, prefix, 'ipv4');
  for (const [network, prefix] of v6) list.addSubnet(network, prefix, 'ipv6');
  return list;
})();

/** Is `address` (an IPv4 or IPv6 literal) in a private, loopback, link-local or otherwise non-public range? */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) reaches the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return isPrivateAddress(mapped[1]);
  const family = isIP(bare);
  if (family === 4) return BLOCKED.check(bare, 'ipv4');
  if (family === 6) {
    // ::ffff:a.b.c.d written in hex (::ffff:0a00:0001).
    const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(bare);
    if (hexMapped) {
      const high = parseInt(hexMapped[1], 16);
      const low = parseInt(hexMapped[2], 16);
      return isPrivateAddress(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
    }
    return BLOCKED.check(bare, 'ipv6');
  }
  return true; // not an address at all: refuse rather than guess
}

/** Resolves `host` (a name or an address literal) and returns the private addresses among its addresses. */
export async function privateAddressesOf(host: string, resolve: (host: string) => Promise<string[]> = resolveAll): Promise<string[]> {
  return (await addressesOf(host, resolve)).filter(isPrivateAddress);
}

/**
 * Every address of `host`: an address literal is itself (brackets removed), a name is resolved once. A caller that
 * checks these addresses must also connect to exactly these, not resolve the name again (DNS rebinding).
 */
export async function addressesOf(host: string, resolve: (host: string) => Promise<string[]> = resolveAll): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) ? [bare] : resolve(bare);
}

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
}

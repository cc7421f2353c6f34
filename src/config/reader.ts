import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';

/** A bad environment variable: the message names it and quotes what it received. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    expected: string,
    received: string,
  ) {
    super(`Expected ${expected} for ${variable} but received ${JSON.stringify(received)}`);
    this.name = 'ConfigError';
  }
}

/** One parser per kind of value, all reporting through ConfigError. */
export function createReader(env: Readonly<Record<string, string | undefined>>) {
  const raw = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const value = raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new ConfigError(name, `an integer from ${min} to ${max}`, value);
    }
    return Number(value);
  };
  return {
    string: (name: string, fallback: string): string => raw(name) ?? fallback,
    optionalString: (name: string): string | undefined => raw(name),
    names: (name: string): string[] => {
      const value = raw(name);
      if (value === undefined) return [];
      const names = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
      for (const item of names) {
        if (!/^[\w./@-]+$/.test(item)) throw new ConfigError(name, 'a comma-separated list of model names', item);
      }
      return names;
    },
    integer,
    optionalInteger: (name: string, min: number, max: number): number | undefined => (raw(name) === undefined ? undefined : integer(name, 0, min, max)),
    boolean: (name: string, fallback: boolean): boolean => {
      const value = raw(name);
      if (value === undefined) return fallback;
      const lower = value.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
      if (['0', 'false', 'no', 'off'].includes(lower)) return false;
      throw new ConfigError(name, 'true or false', value);
    },
    oneOf: <T extends string>(name: string, values: readonly T[], fallback: T): T => {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (!(values as readonly string[]).includes(value)) throw new ConfigError(name, `one of ${values.join(', ')}`, value);
      return value as T;
    },
    path: (name: string, fallback: string, base: string): string => {
      const value = raw(name);
      if (value === undefined) return fallback;
      return isAbsolute(value) ? value : resolve(base, value);
    },
    host: (name: string, fallback: string): string => {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (!/^[A-Za-z0-9.:[\]-]+$/.test(value)) throw new ConfigError(name, 'a host name or IP address', value);
      return value;
    },
    redisUrl: (name: string): string | undefined => {
      const value = raw(name);
      if (value === undefined) return undefined;
      let url: URL | undefined;
      try {
        url = new URL(value);
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
        throw new ConfigError(name, 'a redis:// or rediss:// URL', value.replace(/\/\/[^@/]*@/, '//***@'));
      }
      return value;
    },
    trustProxy: (name: string): number | string[] | false => {
      const value = raw(name);
      if (value === undefined || value.toLowerCase() === 'false') return false;
      if (/^\d+$/.test(value)) return integer(name, 0, 0, 100);
      const entries = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
      for (const entry of entries) {
        if (!isProxyAddress(entry)) throw new ConfigError(name, 'a hop count or a comma-separated list of IP addresses, CIDRs, loopback, linklocal or uniquelocal', entry);
      }
      return entries;
    },
    /** Comma-separated origins (`https://app.example.com`, `http://localhost:5173`) or `*`; undefined when unset. */
    origins: (name: string): string[] | undefined => {
      const value = raw(name);
      if (value === undefined) return undefined;
      const origins = value.split(',').map((origin) => origin.trim().toLowerCase().replace(/\/$/, '')).filter((origin) => origin !== '');
      for (const origin of origins) {
        if (origin !== '*' && !isOrigin(origin)) throw new ConfigError(name, 'a comma-separated list of origins (https://app.example.com) or *', origin);
      }
      return origins;
    },
    hosts: (name: string): string[] => {
      const value = raw(name);
      if (value === undefined) return [];
      const hosts = value.split(',').map((host) => host.trim().toLowerCase()).filter((host) => host !== '');
      for (const host of hosts) {
        if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host) && !/^\[[0-9a-f:]+\]$/.test(host)) {
          throw new ConfigError(name, 'a comma-separated list of host names (example.com or *.example.com)', host);
        }
      }
      return hosts;
    },
  };
}

/** An address, a CIDR, or one of proxy-addr's names (what Express's `trust proxy` list accepts). */
function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}


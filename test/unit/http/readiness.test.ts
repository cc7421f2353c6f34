import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { readiness, type ReadinessOptions } from '../../../src/http/readiness.ts';
import type { ModelRegistry, VariantInfo } from '../../../src/registry/types.ts';

function variant(name: string, fields: Partial<VariantInfo>): VariantInfo {
  return { name, task: 'caption', isDefault: false, installed: true, state: 'unloaded', ...fields } as VariantInfo;
}

function probe(variants: VariantInfo[], options?: ReadinessOptions): { status: number; body: any } {
  const registry = { list: () => variants } as unknown as ModelRegistry;
  const sent = { status: 0, body: undefined as any };
  const res = {
    status(code: number) {
      sent.status = code;
      return this;
    },
    json(body: unknown) {
      sent.body = body;
      return this;
    },
  } as unknown as Response;
  readiness(registry, options)({} as Request, res, () => undefined);
  return sent;
}

describe('GET /readyz', () => {
  it('is ready when every default variant is installed and not failed (others do not count)', () => {
    const result = probe([variant('cap', { isDefault: true, state: 'unloaded' }), variant('vqa', { isDefault: true, task: 'vqa', state: 'ready' }), variant('other', { installed: false })]);
    expect(result).toEqual({
      status: 200,
      body: {
        status: 'ready',
        variants: [
          { name: 'cap', task: 'caption', default: true, installed: true, state: 'unloaded', ready: true },
          { name: 'vqa', task: 'vqa', default: true, installed: true, state: 'ready', ready: true },
          { name: 'other', task: 'caption', default: false, installed: false, state: 'unloaded', ready: false },
        ],
      },
    });
  });

  it('is not ready (503) when a default variant failed to load or is not installed', () => {
    expect(probe([variant('cap', { isDefault: true, state: 'failed' })])).toMatchObject({ status: 503, body: { status: 'not ready', variants: [{ name: 'cap', ready: false }] } });
    expect(probe([variant('cap', { isDefault: true, installed: false })]).status).toBe(503);
  });

  it('is not ready (503, "draining") once the server is stopping, even with every variant ready', () => {
    let draining = false;
    const ready = [variant('cap', { isDefault: true, state: 'ready' })];
    expect(probe(ready, { draining: () => draining }).status).toBe(200);
    draining = true;
    expect(probe(ready, { draining: () => draining })).toMatchObject({ status: 503, body: { status: 'draining', variants: [{ name: 'cap', ready: true }] } });
  });

  it('reports Redis without letting it decide readiness (every replica shares it)', () => {
    const ready = [variant('cap', { isDefault: true, state: 'ready' })];
    const since = Date.UTC(2026, 11, 7, 12, 0, 0);
    expect(probe(ready, { redis: () => ({ status: 'unavailable', since }) })).toMatchObject({
      status: 200,
      body: { status: 'ready', redis: { status: 'unavailable', since: '2026-12-07T12:00:00.000Z' } },
    });
  });
});

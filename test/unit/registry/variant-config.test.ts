import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../src/errors.ts';
import { DEFAULT_BATCHING, parseVariantConfig } from '../../../src/registry/variant-config.ts';

const FILE = '/repo/registry/blip-base/variant.json';
const valid = {
  name: 'blip-base',
  aliases: ['Salesforce/blip-image-captioning-base'],
  task: 'caption',
  description: 'BLIP base',
  default: true,
  source: { huggingFace: 'Salesforce/blip-image-captioning-base' },
  batching: { maxBatchSize: 4, maxQueueDelayMs: 10 },
};

function parse(json: unknown) {
  return parseVariantConfig(json, FILE, 'blip-base');
}

function errorOf(json: unknown): ServiceError {
  try {
    parse(json);
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the variant to be refused');
}

describe('parseVariantConfig', () => {
  it('reads every field', () => {
    expect(parse(valid)).toEqual({
      name: 'blip-base',
      aliases: ['Salesforce/blip-image-captioning-base'],
      task: 'caption',
      description: 'BLIP base',
      isDefault: true,
      source: { kind: 'huggingFace', id: 'Salesforce/blip-image-captioning-base' },
      batching: { maxBatchSize: 4, maxQueueDelayMs: 10, maxQueueSize: DEFAULT_BATCHING.maxQueueSize, maxRows: DEFAULT_BATCHING.maxRows },
      precision: 'fp32',
      runtime: {},
    });
  });

  it('reads the precision: fp32 when absent, int8 when given', () => {
    expect(parse({ ...valid, precision: 'int8' }).precision).toBe('int8');
    expect(parse({ ...valid, precision: 'fp32' }).precision).toBe('fp32');
  });

  it('fills in optional fields: no aliases, not the default, default batching (each setting on its own)', () => {
    const { aliases, default: _, batching, ...required } = valid;
    expect(parse(required)).toMatchObject({ aliases: [], isDefault: false, batching: DEFAULT_BATCHING });
    expect(parse({ ...required, batching: { maxBatchSize: 2 } }).batching).toEqual({ maxBatchSize: 2, maxQueueDelayMs: DEFAULT_BATCHING.maxQueueDelayMs, maxQueueSize: DEFAULT_BATCHING.maxQueueSize, maxRows: DEFAULT_BATCHING.maxRows });
  });

  it('reads an embedded checkpoint source', () => {
    expect(parse({ ...valid, source: { checkpoint: 'test/fixtures/blip-tiny/caption', embedded: true } }).source).toEqual({
      kind: 'checkpoint',
      path: 'test/fixtures/blip-tiny/caption',
      embedded: true,
    });
    expect(parse({ ...valid, source: { checkpoint: 'models/mine' } }).source).toEqual({ kind: 'checkpoint', path: 'models/mine', embedded: false });
  });

  const cases: Array<[string, unknown, string, string]> = [
    ['not an object', [], 'the variant', 'expected an object for the variant but received []'],
    ['an unknown key', { ...valid, defualt: true }, 'defualt', 'expected no such key (known keys: name, aliases, task, description, default, source, batching, precision, runtime) for defualt but received true'],
    ['a name other than the folder', { ...valid, name: 'blip' }, 'name', 'expected "blip-base" (the folder name) for name but received "blip"'],
    ['a missing name', { ...valid, name: undefined }, 'name', 'expected a non-empty string without surrounding spaces for name but received undefined'],
    ['aliases not an array', { ...valid, aliases: 'blip' }, 'aliases', 'expected an array of strings for aliases but received "blip"'],
    ['a non-string alias', { ...valid, aliases: ['a', 3] }, 'aliases[1]', 'received 3'],
    ['an alias equal to the name', { ...valid, aliases: ['blip-base'] }, 'aliases[0]', 'expected an alias different from the name and the other aliases'],
    ['a repeated alias', { ...valid, aliases: ['a', 'a'] }, 'aliases[1]', 'received "a"'],
    ['an unknown task', { ...valid, task: 'captioning' }, 'task', 'expected "caption" or "vqa" for task but received "captioning"'],
    ['an empty description', { ...valid, description: '' }, 'description', 'received ""'],
    ['a string default', { ...valid, default: 'yes' }, 'default', 'expected a boolean for default but received "yes"'],
    ['no source', { ...valid, source: undefined }, 'source', 'for source but received undefined'],
    ['both sources', { ...valid, source: { huggingFace: 'a/b', checkpoint: 'c' } }, 'source', 'expected exactly one of "huggingFace" and "checkpoint" for source'],
    ['an unknown source key', { ...valid, source: { url: 'https://x' } }, 'source.url', 'expected no such key'],
    ['a malformed Hugging Face id', { ...valid, source: { huggingFace: 'blip-base' } }, 'source.huggingFace', 'received "blip-base"'],
    ['an embedded Hugging Face source', { ...valid, source: { huggingFace: 'a/b', embedded: true } }, 'source.embedded', 'received true'],
    ['an absolute checkpoint path', { ...valid, source: { checkpoint: '/models/x', embedded: true } }, 'source.checkpoint', 'expected a path relative to the repository root'],
    ['a string embedded flag', { ...valid, source: { checkpoint: 'x', embedded: 'true' } }, 'source.embedded', 'expected a boolean for source.embedded'],
    ['a zero batch size', { ...valid, batching: { maxBatchSize: 0 } }, 'batching.maxBatchSize', 'expected an integer from 1 to 256 for batching.maxBatchSize but received 0'],
    ['a fractional batch size', { ...valid, batching: { maxBatchSize: 2.5 } }, 'batching.maxBatchSize', 'received 2.5'],
    ['a negative queue delay', { ...valid, batching: { maxQueueDelayMs: -1 } }, 'batching.maxQueueDelayMs', 'received -1'],
    ['a zero queue size', { ...valid, batching: { maxQueueSize: 0 } }, 'batching.maxQueueSize', 'received 0'],
    ['an unknown precision', { ...valid, precision: 'int4' }, 'precision', 'expected "fp32" or "int8" for precision but received "int4"'],
    ['a fractional row bound', { ...valid, batching: { maxRows: 2.5 } }, 'batching.maxRows', 'received 2.5'],
    ['a misspelt batching key', { ...valid, batching: { maxBatchsize: 4 } }, 'batching.maxBatchsize', 'expected no such key'],
  ];
  it.each(cases)('refuses %s, naming the file and the field', (_, json, field, message) => {
    const error = errorOf(json);
    expect(error).toBeInstanceOf(ServiceError);
    expect(error.code).toBe('INVALID_VARIANT');
    expect(error.message.startsWith(`${FILE}: expected `)).toBe(true);
    expect(error.message).toContain(` for ${field} but received `);
    expect(error.message).toContain(message);
    expect(error.details).toEqual({ file: FILE, field });
  });
});

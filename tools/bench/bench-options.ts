/**
 * The command line of `npm run bench` and what a run will cost: the options, checked, and an estimate of the run's
 * duration on a quiet machine from figures measured before (blip-base fp32: a caption about 1 s, about 1 caption/s at
 * concurrency 16; int8 about 2.5× faster), printed before the long part starts.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import type { Precision } from '../../src/variant/manifest.ts';
import { REPO } from './common.ts';

export interface BenchOptions {
  quick: boolean;
  large: boolean;
  /** The config's name (cache key and report). */
  config: string;
  configFile: string;
  cacheDir: string;
  json: string | undefined;
  reps: number;
  precisions: Precision[];
  torch: boolean;
  coldDisk: boolean;
  /** One precision's serving processes at a time (default with --large: four would not fit in memory). */
  phased: boolean;
  /** Convert the models (both precisions) and stop: conversion before the quiet window. */
  prepareOnly: boolean;
  /** Only the concurrency-1 caption latency over HTTP, with `c1Requests` captions per precision (c1-phase.ts). */
  c1Only: boolean;
  c1Requests: number;
  /** With --c1-only: also serve each precision with ONNX Runtime's spinning off, interleaved. */
  spinningAB: boolean;
  /** Only the loading time in the server (loads-phase.ts): `loads` timed loads per precision. */
  loadsOnly: boolean;
  /** Requests of the concurrency-64 cell per batched process (0: skipped). */
  c64Requests: number;
  /** Loads timed per precision. */
  loads: number;
  qualityImages: number;
  qualitySteps: number;
}

export const USAGE = `npm run bench -- [--quick] [--large | --config-file PATH] [--reps N] [--precision fp32|int8|both]
  [--torch] [--cold-disk] [--phased | --no-phased] [--cache DIR] [--json FILE] [--prepare-only]
  [--c1-only [--c1-requests N] [--spinning-ab]] [--loads-only]`;

export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      large: { type: 'boolean', default: false },
      'config-file': { type: 'string' },
      cache: { type: 'string' },
      json: { type: 'string' },
      reps: { type: 'string' },
      precision: { type: 'string', default: 'both' },
      torch: { type: 'boolean', default: false },
      'cold-disk': { type: 'boolean', default: false },
      'prepare-only': { type: 'boolean', default: false },
      'c1-only': { type: 'boolean', default: false },
      'c1-requests': { type: 'string' },
      'spinning-ab': { type: 'boolean', default: false },
      'loads-only': { type: 'boolean', default: false },
      phased: { type: 'boolean' },
      'no-phased': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (a.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = a.quick ?? false;
  const reps = a.reps === undefined ? (quick ? 1 : 3) : Number(a.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`Expected a positive integer for --reps but received ${a.reps}`);
  // Fewer than 3 repetitions cannot show a spread worth the name: only the smoke mode may do it.
  if (!quick && reps < 3) throw new Error(`Expected --reps of at least 3 (or --quick) but received ${reps}`);
  const c1Requests = a['c1-requests'] === undefined ? 20 : Number(a['c1-requests']);
  if (!Number.isInteger(c1Requests) || c1Requests < 1) throw new Error(`Expected a positive integer for --c1-requests but received ${a['c1-requests']}`);
  if ((a['c1-requests'] !== undefined || a['spinning-ab']) && !a['c1-only']) throw new Error('Expected --c1-requests and --spinning-ab only with --c1-only');
  if (a['loads-only'] && a['c1-only']) throw new Error('Expected --loads-only or --c1-only, not both');
  if (a.large && a['config-file']) throw new Error('Expected --large or --config-file, not both');
  const precisions: Precision[] = a.precision === 'both' ? ['fp32', 'int8'] : a.precision === 'fp32' || a.precision === 'int8' ? [a.precision] : [];
  if (precisions.length === 0) throw new Error(`Expected fp32, int8 or both for --precision but received ${a.precision}`);
  const configFile = a['config-file']
    ? resolve(a['config-file'])
    : join(REPO, 'test/fixtures/configs', `${a.large ? 'blip-image-captioning-large' : 'blip-image-captioning-base'}.json`);
  // A config.json in a folder is named after the folder (blip-tiny/caption/config.json → caption): good enough as a
  // cache key together with the folder's parent.
  const config = a['config-file'] ? `${basename(dirname(dirname(configFile)))}-${basename(dirname(configFile))}-${basename(configFile, '.json')}` : basename(configFile, '.json');
  return {
    quick,
    large: a.large ?? false,
    config,
    configFile,
    cacheDir: resolve(a.cache ?? join(tmpdir(), 'blip-gateway-bench')),
    json: a.json,
    reps,
    precisions,
    torch: a.torch ?? false,
    coldDisk: a['cold-disk'] ?? false,
    prepareOnly: a['prepare-only'] ?? false,
    c1Only: a['c1-only'] ?? false,
    c1Requests,
    spinningAB: a['spinning-ab'] ?? false,
    loadsOnly: a['loads-only'] ?? false,
    phased: a['no-phased'] ? false : (a.phased ?? a.large ?? false),
    c64Requests: quick ? 64 : 128,
    // Alone, loads are cheap: more of them for a steadier median.
    loads: quick ? 1 : a['loads-only'] ? 7 : 3,
    qualityImages: quick ? 2 : 8,
    qualitySteps: quick ? 5 : 20,
  };
}

/** Seconds one caption costs at concurrency 1 and per caption at concurrency 16, by precision (blip-base, measured before). */
const BASE_FIGURES: Record<Precision, { single: number; c16: number; unbatchedC16: number }> = {
  fp32: { single: 1.0, c16: 1.0, unbatchedC16: 1.1 },
  int8: { single: 0.4, c16: 0.4, unbatchedC16: 0.45 },
};

/**
 * Minutes a full run should take on a quiet machine: the HTTP cells (requests × seconds per caption, both batching
 * modes), the concurrency-64 cells, the in-process parts and the side-by-side. blip-large costs about 3× blip-base.
 */
export function estimateMinutes(o: BenchOptions, requestsFor: (concurrency: number) => number): number {
  const scale = o.large ? 3 : o.configFile.includes('configs/blip-image-captioning-') ? 1 : 0.02;
  let seconds = 60; // start-up, GEMM probe, server starts
  for (const p of o.precisions) {
    const f = BASE_FIGURES[p];
    const cells = requestsFor(1) * 2 * f.single + requestsFor(4) * (f.c16 + f.unbatchedC16) * 1.2 + requestsFor(16) * (f.c16 + f.unbatchedC16);
    seconds += scale * (o.reps * cells + o.c64Requests * f.c16);
    // Vision (1 + 4 + 8 images per rep, plus warm-up), raw captions, quality, loads (about 4 s each).
    seconds += scale * ((o.reps + 1) * 13 * f.single * 0.8 + (Math.max(3, o.reps + 2) + 1) * f.single + 20 + (o.loads + 1) * 8);
  }
  if (o.torch) seconds += scale * 8 * 5; // about 5 s per PyTorch caption, warm-up + runs + model set-up
  return seconds / 60;
}

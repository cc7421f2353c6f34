/**
 * `npm run bench -- --c1-only`: the concurrency-1 caption latency over HTTP alone (issue 12's "int8 caption, c1, p50
 * ≤ 0.5 s"), in a few minutes instead of the full bench's twenty. One batched serving process per precision (the
 * shipped batching defaults, as the full bench's c1 cell), the precisions alternating request by request, every
 * request a new picture. Besides the client's time it reads each result's `timings` and splits the time into what the
 * worker spent (preprocessing, encoders, decode steps) and what it did not: the gateway's share (HTTP, JSON, GraphQL,
 * base64, the hops to and from the worker). `--spinning-ab` adds, per precision, a process with ONNX Runtime's spinning
 * off (INTRA_OP_SPINNING=false), its requests interleaved with the default's.
 */
import { performance } from 'node:perf_hooks';
import type { Precision } from '../../src/variant/manifest.ts';
import { distinctImage, round } from './common.ts';
import { timeOneLoad } from './load-timing.ts';
import { startServingProcess, type ServingProcess } from './serving-process.ts';
import { rotate, summarize, type Summary } from './stats.ts';

/** Picture seeds of this phase, apart from every other seed of the bench. */
const SEED_BASE = 3_000_000;

interface ServerTimings {
  queueMs: number;
  preprocessMs: number;
  encodeMs: number;
  decodeMs: number;
  totalMs: number;
}

export interface C1Figures {
  requests: number;
  /** What the client waited per caption (its p50 is the issue's figure). */
  client_ms: Summary;
  p50_ms: number;
  p95_ms: number;
  /** Medians of the result's `timings`, and of what the client waited beyond the server's `totalMs`. */
  parts_ms: { queue: number; preprocess: number; encode: number; decode: number; server_total: number; outside_server: number; decode_per_step: number };
  /** client p50 / raw in-process caption median − 1 (the raw caption runs with spinning on, ONNX Runtime's default). */
  gateway_overhead: number | null;
}

const CAPTION = 'mutation($input: CaptionInput!) { caption(input: $input) { sequence timings { queueMs preprocessMs encodeMs decodeMs totalMs } } }';

async function timedCaption(server: ServingProcess, base64: string, tokens: number): Promise<{ clientMs: number; timings: ServerTimings }> {
  const t0 = performance.now();
  const data = await server.graphql<{ caption: { sequence: number[]; timings: ServerTimings } }>(CAPTION, {
    input: { model: server.name, image: { base64 }, options: { minLength: tokens, maxLength: tokens } },
  });
  const clientMs = performance.now() - t0;
  if (data.caption.sequence.length !== tokens) throw new Error(`${server.name}: a caption of ${data.caption.sequence.length} tokens instead of ${tokens}`);
  return { clientMs, timings: data.caption.timings };
}

/**
 * `requests` captions per precision at concurrency 1 over HTTP. `raw` (in-process caption medians by precision, if
 * measured) gives the gateway overhead.
 */
export async function runC1Phase(o: {
  precisions: Precision[];
  dirs: Record<string, string>;
  description: string;
  requests: number;
  tokens: number;
  raw: Record<string, Summary> | undefined;
  /** Also serve each precision with ONNX Runtime's spinning off (INTRA_OP_SPINNING=false), interleaved. */
  spinningAB: boolean;
  log: (m: string) => void;
}): Promise<Record<string, C1Figures>> {
  const servers: Array<{ label: string; precision: Precision; server: ServingProcess }> = [];
  let seed = SEED_BASE;
  try {
    for (const p of o.precisions) {
      for (const spinning of o.spinningAB ? [true, false] : [true]) {
        // Spinning on is the server's default (INTRA_OP_SPINNING); the label names only the A/B's other arm.
        const label = spinning ? p : `${p} spinning-off`;
        const s = await startServingProcess(o.dirs[p], p, true, o.description, { INTRA_OP_SPINNING: String(spinning) }, spinning ? '' : '-nospin');
        servers.push({ label, precision: p, server: s });
        await timeOneLoad(s);
        // Two untimed captions: the sessions' first runs allocate and plan, which no later request pays.
        for (let i = 0; i < 2; i++) await timedCaption(s, (await distinctImage(seed++)).toString('base64'), o.tokens);
        o.log(`c1: started ${s.name} (pid ${s.pid}), warm`);
      }
    }
    const samples = new Map<string, Array<{ clientMs: number; timings: ServerTimings }>>(servers.map((s) => [s.label, []]));
    for (let i = 0; i < o.requests; i++) {
      for (const { label, server } of rotate(servers, i)) {
        // The picture is encoded before the clock starts.
        const base64 = (await distinctImage(seed++)).toString('base64');
        samples.get(label)!.push(await timedCaption(server, base64, o.tokens));
      }
    }
    const out: Record<string, C1Figures> = {};
    for (const [label, runs] of samples) {
      const precision = servers.find((s) => s.label === label)!.precision;
      const client = summarize(runs.map((r) => r.clientMs));
      const med = (f: (r: { clientMs: number; timings: ServerTimings }) => number) => summarize(runs.map(f)).median;
      const decode = med((r) => r.timings.decodeMs);
      // The raw caption runs with ONNX Runtime's default (spinning on): the overhead is only the default's.
      const raw = label === precision ? o.raw?.[precision]?.median : undefined;
      out[label] = {
        requests: runs.length,
        client_ms: client,
        p50_ms: client.median,
        p95_ms: round(percentile95(runs.map((r) => r.clientMs))),
        parts_ms: {
          queue: med((r) => r.timings.queueMs),
          preprocess: med((r) => r.timings.preprocessMs),
          encode: med((r) => r.timings.encodeMs),
          decode,
          server_total: med((r) => r.timings.totalMs),
          outside_server: med((r) => r.clientMs - r.timings.totalMs),
          decode_per_step: round(decode / (o.tokens - 1), 2),
        },
        gateway_overhead: raw === undefined ? null : round(client.median / raw - 1, 3),
      };
      const f = out[label];
      o.log(
        `c1 ${label}: p50 ${f.p50_ms} ms [${client.min}–${client.max}], p95 ${f.p95_ms} ms; parts (medians): queue ${f.parts_ms.queue}, preprocess ${f.parts_ms.preprocess}, ` +
          `encode ${f.parts_ms.encode}, decode ${f.parts_ms.decode} (${f.parts_ms.decode_per_step}/step), outside the server's totalMs ${f.parts_ms.outside_server}`,
      );
    }
    return out;
  } finally {
    for (const s of servers) await s.server.stop();
  }
}

function percentile95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
}

/** The table of a `--c1-only` run. */
export function formatC1(figures: Record<string, C1Figures>, raw: Record<string, Summary> | undefined, loadAverage: { start: number[]; end: number[] }): string {
  const lines = [
    `c1 caption latency over HTTP (batched serving process, 20 tokens)`,
    `load average (1/5/15 min): start ${loadAverage.start.map((x) => x.toFixed(2)).join(' ')}, end ${loadAverage.end.map((x) => x.toFixed(2)).join(' ')}${loadAverage.start[0] > 0.5 ? '   !! machine not quiet at start' : ''}`,
    'server | requests | p50 ms [min–max] | p95 ms | raw in-process ms | overhead | queue+hops | preprocess | encode | decode (per step) | outside server',
  ];
  for (const [label, f] of Object.entries(figures)) {
    const r = raw?.[label];
    const p = f.parts_ms;
    lines.push(
      `  ${label} | ${f.requests} | ${f.p50_ms} [${f.client_ms.min}–${f.client_ms.max}]${f.client_ms.spread_flag ? ' !SPREAD' : ''} | ${f.p95_ms} | ${r ? `${r.median} [${r.min}–${r.max}]` : '-'} | ` +
        `${f.gateway_overhead === null ? '-' : `${(100 * f.gateway_overhead).toFixed(1)} %`} | ${p.queue} | ${p.preprocess} | ${p.encode} | ${p.decode} (${p.decode_per_step}) | ${p.outside_server}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

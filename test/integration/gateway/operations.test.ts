import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerDocument, CaptionBatchDocument, CaptionDocument, LimitsDocument, ModelsDocument } from '../../generated/graphql.ts';
import { base64Image, startTestServer, type TestServer } from './helpers.ts';
import { capturingLogger } from '../../helpers/log-capture.ts';

/** `/metrics` as a map from `name{label="value",…}` (labels sorted) to its value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter((pair) => pair !== '')
      .sort()
      .join(',');
    samples.set(labels === '' ? match[1] : `${match[1]}{${labels}}`, Number(match[3]));
  }
  return samples;
}

const requestLines = (lines: Array<Record<string, any>>) => lines.filter((line) => line.msg === 'request');

describe('operations: metrics, request logs, readiness, security headers', () => {
  let t: TestServer;
  let log: ReturnType<typeof capturingLogger>;
  let captionModel: string;
  let vqaModel: string;

  beforeAll(async () => {
    log = capturingLogger();
    t = await startTestServer({ logger: log.logger });
    const models = (await t.gql(ModelsDocument)).body.data!.models;
    captionModel = models.find((m) => m.isDefault && m.task === 'CAPTION')!.name;
    vqaModel = models.find((m) => m.isDefault && m.task === 'VQA')!.name;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('/metrics counts a known sequence of requests exactly', async () => {
    const image = base64Image('gradient_64x48.png');
    const captions = [];
    for (const name of ['gradient_64x48.png', 'shapes_400x300.jpg']) {
      // The first caption uses the defaults, like the REST request below that repeats it.
      const options = name === 'gradient_64x48.png' ? undefined : { maxNewTokens: 5 };
      const response = await t.gql(CaptionDocument, { input: { image: { base64: base64Image(name) }, options } });
      expect(response.body.errors).toBeUndefined();
      captions.push(response.body.data!.caption);
    }
    const unknown = await t.gql(CaptionDocument, { input: { image: { base64: image }, model: 'no-such-model' } });
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('MODEL_NOT_FOUND');
    const answer = await t.gql(AnswerDocument, { input: { image: { base64: image }, question: 'what is it?' } });
    expect(answer.body.errors).toBeUndefined();
    const batch = await t.gql(CaptionBatchDocument, { inputs: [{ image: { base64: image }, options: { maxNewTokens: 5 } }, { image: { base64: 'bm90IGFuIGltYWdl' } }] });
    expect(batch.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNSUPPORTED_IMAGE_FORMAT']);
    // The same request as the first caption, over REST: the same sequence (the engine is deterministic).
    const rest = await t.rest({ image, options: undefined });
    expect(rest.status).toBe(200);
    const parseFailure = await t.postGraphQL({ query: 'mutation {' });
    expect(parseFailure.status).toBe(400);

    const m = await scrape(t.url);
    const cap = `variant="${captionModel}"`;
    expect(m.get(`blip_requests_total{operation="caption",${cap}}`)).toBe(2);
    expect(m.get(`blip_requests_total{operation="caption",variant="none"}`)).toBe(1);
    expect(m.get(`blip_requests_total{operation="answer",variant="${vqaModel}"}`)).toBe(1);
    expect(m.get(`blip_requests_total{operation="captionBatch",${cap}}`)).toBe(1);
    expect(m.get(`blip_requests_total{operation="rest",${cap}}`)).toBe(1);
    expect(m.get(`blip_request_duration_seconds_count{operation="caption",${cap}}`)).toBe(2);
    expect(m.get(`blip_request_duration_seconds_bucket{le="+Inf",operation="answer",variant="${vqaModel}"}`)).toBe(1);
    expect(m.get(`blip_errors_total{code="MODEL_NOT_FOUND",operation="caption"}`)).toBe(1);
    expect(m.get(`blip_errors_total{code="UNSUPPORTED_IMAGE_FORMAT",operation="captionBatch"}`)).toBe(1);
    expect(m.get(`blip_errors_total{code="GRAPHQL_PARSE_FAILED",operation="graphql"}`)).toBe(1);
    // Model passes: two captions, the batch (both items reach the engine, which finds the second is no image), REST;
    // one answer.
    expect(m.get(`blip_batch_size_count{${cap}}`)).toBe(4);
    expect(m.get(`blip_batch_size_sum{${cap}}`)).toBe(5);
    expect(m.get(`blip_batch_size_count{variant="${vqaModel}"}`)).toBe(1);
    // Queue time of every served item: the two captions, the batch's good item, REST; the answer.
    expect(m.get(`blip_queue_seconds_count{${cap}}`)).toBe(4);
    expect(m.get(`blip_queue_seconds_count{variant="${vqaModel}"}`)).toBe(1);
    expect(m.get(`blip_model_load_seconds_count{${cap}}`)).toBe(1);
    expect(m.get(`blip_model_load_seconds_count{variant="${vqaModel}"}`)).toBe(1);
    expect(m.get(`blip_model_loaded{${cap}}`)).toBe(1);
    expect(m.get('blip_models_loaded')).toBe(2);
    expect(m.get(`blip_queue_depth{${cap}}`)).toBe(0);
    // Image embeddings: the two captions miss; the batch item and REST repeat the first image and hit. The answer
    // runs on another variant, with its own cache.
    expect(m.get(`blip_embedding_cache_lookups_total{result="miss",${cap}}`)).toBe(2);
    expect(m.get(`blip_embedding_cache_lookups_total{result="hit",${cap}}`)).toBe(2);
    expect(m.get(`blip_embedding_cache_lookups_total{result="miss",variant="${vqaModel}"}`)).toBe(1);
    expect(m.get(`blip_embedding_cache_bytes{${cap}}`)).toBeGreaterThan(0);
    // Generated tokens: each sequence minus [DEC] (no prompts here); REST repeated the first caption's request.
    const generated = (sequence: readonly number[]) => sequence.length - 1;
    const batchItem = batch.body.data!.captionBatch[0]!;
    expect(m.get(`blip_tokens_generated_total{${cap}}`)).toBe(generated(captions[0].sequence) * 2 + generated(captions[1].sequence) + generated(batchItem.sequence));
    expect(m.get(`blip_tokens_generated_total{variant="${vqaModel}"}`)).toBe(generated(answer.body.data!.answer.sequence));
    // Default process metrics are on.
    expect(m.has('process_cpu_user_seconds_total')).toBe(true);
    expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('blip_spare_worker_ready reaches 1 once the spare started after the last load has imported its modules', async () => {
    // Spare workers are on by default (SPARE_WORKER); both default variants were loaded by the first requests.
    let ready: number | undefined;
    for (let attempt = 0; attempt < 120 && ready !== 1; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      ready = (await scrape(t.url)).get('blip_spare_worker_ready');
      expect([0, 1]).toContain(ready);
    }
    expect(ready).toBe(1);
  });

  it('writes exactly one JSON line per request, with its id, operation, variant, status and codes, and no image data', async () => {
    const image = base64Image('gradient_64x48.png');
    const before = requestLines(log.lines()).length;
    const tagged = await t.gql(CaptionDocument, { input: { image: { base64: image }, options: { maxNewTokens: 4 } } }, { 'x-request-id': 'req-42' });
    expect(tagged.headers.get('x-request-id')).toBe('req-42');
    const untagged = await t.gql(CaptionBatchDocument, { inputs: [{ image: { base64: image } }, { image: { base64: 'bm90IGFuIGltYWdl' } }] });
    const generatedId = untagged.headers.get('x-request-id');
    expect(generatedId).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((resolve) => setTimeout(resolve, 50));

    const lines = requestLines(log.lines()).slice(before);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 30,
      requestId: 'req-42',
      clientIp: '127.0.0.1',
      method: 'POST',
      path: '/graphql',
      status: 200,
      operationName: 'Caption',
      durationMs: expect.any(Number),
      operations: [{ operation: 'caption', variants: [captionModel], items: 1, batchSizes: [expect.any(Number)], durationMs: expect.any(Number) }],
    });
    expect(lines[0]).not.toHaveProperty('errorCodes');
    expect(lines[1]).toMatchObject({
      requestId: generatedId,
      status: 200,
      errorCodes: ['UNSUPPORTED_IMAGE_FORMAT'],
      operations: [{ operation: 'captionBatch', variants: [captionModel], items: 2, errorCodes: ['UNSUPPORTED_IMAGE_FORMAT'] }],
    });
    const text = JSON.stringify(lines);
    expect(text).not.toContain(image.slice(0, 40));
    expect(text).not.toContain('bm90IGFuIGltYWdl');
  });

  it('logs request-level failures too, with their status and code', async () => {
    const before = requestLines(log.lines()).length;
    const response = await t.postGraphQL({ query: '{ nope }' }, { 'x-request-id': 'bad one with spaces' });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-request-id')).not.toBe('bad one with spaces');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [line] = requestLines(log.lines()).slice(before);
    expect(line).toMatchObject({ status: 400, operations: [], errorCodes: ['GRAPHQL_VALIDATION_FAILED'], requestId: response.headers.get('x-request-id') });
  });

  it('GET /readyz: 200 and every variant\'s readiness when the defaults are installed and not failed', async () => {
    const response = await fetch(`${t.url}/readyz`);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.status).toBe('ready');
    expect(body.variants).toContainEqual({ name: captionModel, task: 'caption', default: true, installed: true, state: 'ready', ready: true });
  });

  it('sends helmet\'s headers everywhere, without CSP on the Sandbox landing page only', async () => {
    for (const path of ['/healthz', '/metrics', '/readyz']) {
      const response = await fetch(`${t.url}${path}`);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    }
    const graphql = await t.gql(LimitsDocument);
    expect(graphql.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(graphql.headers.get('strict-transport-security')).toMatch(/max-age=/);
    const sandbox = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(sandbox.status).toBe(200);
    expect(await sandbox.text()).toContain('embeddable-sandbox');
    expect(sandbox.headers.get('content-security-policy')).toBeNull();
    expect(sandbox.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('rate limit', () => {
  it('is off by default: a script sending 150 requests at once to an idle server gets no 429', async () => {
    const idle = await startTestServer();
    try {
      const statuses = await Promise.all(Array.from({ length: 150 }, () => idle.gql(LimitsDocument).then((r) => r.status)));
      expect(new Set(statuses)).toEqual(new Set([200]));
    } finally {
      await idle.close();
    }
  });

  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { RATE_LIMIT_PER_MINUTE: '60', RATE_LIMIT_BURST: '2' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a client over its bucket: GraphQL RATE_LIMITED with retryAfterMs, REST 429; health is not limited', async () => {
    expect((await t.gql(LimitsDocument)).status).toBe(200);
    expect((await t.gql(LimitsDocument)).status).toBe(200);
    const limited = await t.gql(LimitsDocument);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.body).toEqual({ errors: [{ message: expect.stringMatching(/^Too many requests from this client; retry after \d+ ms$/), extensions: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) } }] });
    expect(limited.body.errors![0].extensions!.retryAfterMs).toBeGreaterThan(0);
    expect(limited.body.errors![0].extensions!.retryAfterMs).toBeLessThanOrEqual(1000);
    const rest = await t.rest({ image: base64Image('gradient_64x48.png') });
    expect(rest.status).toBe(429);
    expect(rest.body).toEqual({ error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: expect.any(Number) } });
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const m = await scrape(t.url);
    expect(m.get('blip_errors_total{code="RATE_LIMITED",operation="graphql"}')).toBe(1);
    expect(m.get('blip_errors_total{code="RATE_LIMITED",operation="rest"}')).toBe(1);
  });
});

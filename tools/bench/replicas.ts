/**
 * `npm run bench:replicas`: caption throughput of 1 vs 2 gateway replicas behind Debian's haproxy (round-robin), on
 * the embedded blip-demo, with the same client load: `--requests N` captions of distinct pictures, `--concurrency C`
 * at a time. On a 2-core machine two replicas share the same cores, so no gain is expected; the point of the fleet is
 * correctness (test/integration/fleet), and this shows the cost of running two.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postJson, startBalancer, startReplica, type Replica } from '../../test/integration/fleet/fleet-harness.ts';
import { distinctImage, median, REPO, round } from './common.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const requests = option('--requests', 32);
const concurrency = option('--concurrency', 8);
const repetitions = option('--repetitions', 3);
const log = (message: string) => process.stderr.write(`${message}\n`);

const scratch = await mkdtemp(join(tmpdir(), 'bench-replicas-'));
const registryDir = join(scratch, 'registry');
await cp(join(REPO, 'registry'), registryDir, { recursive: true, filter: (path) => !path.includes('/.') });
const QUERY = 'mutation ($input: CaptionInput!) { caption(input: $input) { caption } }';
let seed = 5_000_000;

async function run(url: string): Promise<number> {
  const images = await Promise.all(Array.from({ length: requests }, async () => (await distinctImage(seed++)).toString('base64')));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < images.length) {
        const base64 = images[next++];
        const outcome = await postJson(`${url}/graphql`, { query: QUERY, variables: { input: { model: 'blip-demo', image: { base64 } } } }, { timeoutMs: 120_000 });
        if (outcome.status !== 200) throw new Error(`HTTP ${outcome.status}`);
      }
    }),
  );
  return requests / ((performance.now() - started) / 1000);
}

const results: Record<string, number[]> = { '1': [], '2': [] };
for (const count of [1, 2]) {
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i++) replicas.push(await startReplica(`r${i + 1}`, { REGISTRY_DIR: registryDir, PRELOAD_MODELS: 'blip-demo' }));
  const balancer = await startBalancer(scratch, replicas, { sourceAddress: '127.0.0.1', checkIntervalMs: 500 });
  await run(balancer.url); // warm-up: every replica has loaded and seen a batch
  for (let r = 0; r < repetitions; r++) results[String(count)].push(round(await run(balancer.url), 2));
  await balancer.stop();
  for (const replica of replicas) {
    replica.child.kill('SIGTERM');
    await replica.exited;
  }
  log(`${count} replica(s): ${results[String(count)].join(', ')} captions/s (median ${median(results[String(count)])})`);
}
await rm(scratch, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ requests, concurrency, repetitions, captions_per_s: results })}\n`);

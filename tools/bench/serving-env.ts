/**
 * The glibc setting every shipped way of starting the server uses (`npm start` in package.json, the Dockerfile):
 * allocations of 1 MiB or more (cross-attention K/V, activations) are mapped on their own and returned to the system
 * when freed, instead of fragmenting glibc's heaps. The bench's serving processes start with it too, so that the RSS
 * it reports is the RSS a deployment sees. test/unit/tools/serving-env.test.ts keeps the three places in agreement.
 */
export const SERVING_MALLOC_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_MMAP_THRESHOLD_: '1048576' });

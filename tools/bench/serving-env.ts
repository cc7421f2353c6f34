/**
 * The glibc settings every shipped way of starting the server uses (`npm start` in package.json, the Dockerfile):
 * - allocations of 2 MiB or more (many-row cross-attention batches, big activations) are mapped on their own and
 *   returned to the system when freed, instead of fragmenting glibc's heaps; one image's tensors (1.8 MB at blip-base
 *   fp32) stay in the heap, reused, where a fresh mapping per tensor made fp32 c16 fault 30,000 pages per caption;
 * - those mappings get transparent huge pages, so that the buffers ONNX Runtime fills and frees while it prepacks every
 *   weight at a load do not fault in 4 KiB pages (README "Where a load's time goes").
 * The bench's serving processes start with them too, so that the RSS and load times it reports are what a deployment
 * sees. test/unit/bench/serving-env.test.ts keeps the three places in agreement.
 */
export const SERVING_MALLOC_ENV: Readonly<Record<string, string>> = Object.freeze({
  MALLOC_MMAP_THRESHOLD_: '2097152',
  GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1',
});

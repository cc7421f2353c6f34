/**
 * The glibc settings every shipped way of starting the server uses (`npm start` in package.json, the Dockerfile):
 * `glibc.malloc.hugetlb=1` gives glibc's large mappings transparent huge pages, so that the buffers ONNX Runtime fills
 * and frees while it prepacks every weight at a load do not fault in 4 KiB pages (README "Where a load's time goes").
 * No fixed MALLOC_MMAP_THRESHOLD_ any more: since the cross K/V of captions runs one image at a time and the
 * self-attention cache is updated in place, a fixed threshold no longer bought a lower peak RSS (README "Memory
 * budget", 2026-12-08 table), and it made every prepacked weight a fresh mapping: a blip-base fp32 load took 1.9 s of
 * CPU with 2 MiB against 1.0 s without it.
 * The bench's serving processes start with them too, so that the RSS and load times it reports are what a deployment
 * sees. test/unit/bench/serving-env.test.ts keeps the three places in agreement.
 */
export const SERVING_MALLOC_ENV: Readonly<Record<string, string>> = Object.freeze({
  GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1',
});

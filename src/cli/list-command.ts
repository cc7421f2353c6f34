import { loadHubConfig } from '../config/config.ts';
import { listVariants } from '../hub/variant-files.ts';
import { formatBytes } from './pull-progress.ts';

/** `blip-gateway list`: every variant of REGISTRY_DIR with what is installed. */
export async function runList(flags: { json?: boolean }): Promise<void> {
  const { registryDir } = loadHubConfig();
  const rows = await listVariants(registryDir);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const table = [
    ['NAME', 'TASK', 'INSTALLED', 'PRECISION', 'REVISION', 'SIZE', 'SOURCE'],
    ...rows.map((r) => [r.name, r.task, r.status, r.precision ?? '-', r.revision?.slice(0, 12) ?? '-', r.bytes === null ? '-' : formatBytes(r.bytes), r.source]),
  ];
  const widths = table[0].map((_, column) => Math.max(...table.map((row) => row[column].length)));
  for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()}\n`);
}

/**
 * The import rules of `.dependency-cruiser.cjs`, run through dependency-cruiser's API. The API, unlike its CLI (which
 * refuses Node 20), runs on every Node this project supports, so `npm run lint` behaves the same on 20 and 24.
 */
import { isAbsolute, join } from 'node:path';
import { cruise, type ICruiseOptions, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

export interface ImportViolation {
  rule: string;
  from: string;
  to: string;
  /** For cycles: the modules of the cycle, starting and ending at `from`. */
  cycle: string[];
}

export interface ImportCheck {
  violations: ImportViolation[];
  /** Modules the check looked at (a count of zero means it saw nothing, which is itself a failure). */
  moduleCount: number;
  /** The rule names of the configuration, with their comments. */
  rules: ReadonlyMap<string, string>;
}

export interface ImportCheckOptions {
  /** The folder the module paths are relative to (the rules match `^src/...`). */
  root: string;
  /** Files or folders to check, relative to `root`. */
  paths: readonly string[];
  /** The dependency-cruiser configuration file. */
  configFile: string;
}

/** Runs the configured rules over `paths` under `root`. */
export async function checkImports({ root, paths, configFile }: ImportCheckOptions): Promise<ImportCheck> {
  const loaded = await extractDepcruiseOptions(configFile);
  const configDir = join(configFile, '..');
  // The configuration names tsconfig.json relative to itself; the files it checks may live elsewhere (tests).
  const tsConfigName = loaded.tsConfig?.fileName ?? 'tsconfig.json';
  const tsConfigFile = isAbsolute(tsConfigName) ? tsConfigName : join(configDir, tsConfigName);
  const options: ICruiseOptions = { ...loaded, baseDir: root, tsConfig: { fileName: tsConfigFile } };
  const reported = await cruise([...paths], options, {}, { tsConfig: extractTSConfig(tsConfigFile) });
  const result = reported.output as ICruiseResult;
  const rules = new Map((loaded.ruleSet?.forbidden ?? []).map((rule) => [rule.name ?? '', rule.comment ?? '']));
  return { violations: result.summary.violations.map(toViolation), moduleCount: result.modules.length, rules };
}

/** One line per violation, with the rule's comment once per rule. */
export function formatImportViolations(check: ImportCheck): string {
  const lines: string[] = [];
  const explained = new Set<string>();
  for (const v of check.violations) {
    const path = v.cycle.length > 0 ? v.cycle.join(' → ') : `${v.from} → ${v.to}`;
    lines.push(`  ${v.rule}: ${path}`);
    if (!explained.has(v.rule)) {
      explained.add(v.rule);
      const comment = check.rules.get(v.rule);
      if (comment) lines.push(`    (${comment})`);
    }
  }
  return lines.join('\n');
}

// Private.
function toViolation(v: IViolation): ImportViolation {
  const cycle = v.cycle ? [v.from, ...v.cycle.map((step) => step.name)] : [];
  return { rule: v.rule.name, from: v.from, to: v.to, cycle };
}

/**
 * `npm run lint`: the import rules of .dependency-cruiser.cjs over src/, and no source file in src/ over 400 lines.
 * Prints every violation and exits 1 if there is any.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { checkImports, formatImportViolations } from './import-rules.ts';
import { findLongFiles, MAX_SOURCE_LINES } from './max-lines.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const imports = await checkImports({ root: ROOT, paths: ['src'], configFile: join(ROOT, '.dependency-cruiser.cjs') });
const longFiles = await findLongFiles(ROOT, 'src');

let failed = false;
if (imports.moduleCount === 0) {
  failed = true;
  console.error('import rules: no module found under src/ (is the checker looking in the right place?)');
} else if (imports.violations.length > 0) {
  failed = true;
  console.error(`import rules: ${imports.violations.length} violation(s)\n${formatImportViolations(imports)}`);
} else {
  console.log(`import rules: ${imports.moduleCount} modules, ${imports.rules.size} rules, no violation`);
}
if (longFiles.length > 0) {
  failed = true;
  console.error(`file length: ${longFiles.length} file(s) over ${MAX_SOURCE_LINES} lines (split them by responsibility)`);
  for (const { file, lines } of longFiles) console.error(`  ${file}: ${lines} lines`);
} else {
  console.log(`file length: no file in src/ over ${MAX_SOURCE_LINES} lines`);
}
process.exitCode = failed ? 1 : 0;

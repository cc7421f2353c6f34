import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, copyFile, readdir, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/config/config.ts';
import { execForm, parseDockerfile, type DockerStage } from './dockerfile.ts';

/**
 * Docker cannot run on the machines that run this suite (no container engine), so the image is never built here.
 * What can be checked without an engine is: the Dockerfile's structure (stages, production-only dependencies, the
 * user, the command), that every file it copies exists, that what the server imports at run time is installed by
 * `npm ci --omit=dev`, and that the build-time conversion command it runs really prepares a registry.
 */
const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
const stage = (name: string) => dockerfile.stages.find((s) => s.name === name);
const runtime = dockerfile.stages.at(-1) as DockerStage;
const commands = (s: DockerStage | undefined, keyword: string) => (s?.instructions ?? []).filter((i) => i.keyword === keyword);

/** The embedded variants' checkpoint folders (registry/<variant>/variant.json, `source.checkpoint`). */
function embeddedCheckpoints(): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of readdirSync(join(REPO_ROOT, 'registry'), { withFileTypes: true })) {
    const file = join(REPO_ROOT, 'registry', entry.name, 'variant.json');
    if (!entry.isDirectory() || !existsSync(file)) continue;
    const variant = JSON.parse(readFileSync(file, 'utf8'));
    if (variant.source?.embedded) found.set(variant.name, variant.source.checkpoint);
  }
  return found;
}

/** The sources a stage copies from the build context (COPY without --from): `COPY a b dest` → [a, b]. */
function copiedPaths(s: DockerStage | undefined): string[] {
  return commands(s, 'COPY')
    .filter((i) => !i.args.includes('--from='))
    .flatMap((i) => i.args.split(/\s+/).filter((word) => !word.startsWith('--')).slice(0, -1));
}

/** Packages the files under `dir` import at run time (type-only imports are erased and do not count). */
function runtimeImports(dir: string): Map<string, string> {
  const packages = new Map<string, string>();
  const visit = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (/\.(ts|mjs|js)$/.test(entry.name)) {
        const text = readFileSync(path, 'utf8');
        const specifiers = [
          ...[...text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;'"]*?from\s+'([^']+)'/gm)].filter((m) => !m[1]).map((m) => m[2]!),
          ...[...text.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1]!),
          ...[...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
        ];
        for (const specifier of specifiers) {
          if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
          const parts = specifier.split('/');
          packages.set(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!, relative(REPO_ROOT, path));
        }
      }
    }
  };
  visit(dir);
  return packages;
}

/**
 * `npm start`'s command without its leading environment assignments (the glibc settings, which the image sets with
 * ENV: test/unit/bench/serving-env.test.ts checks those).
 */
function startCommand(): string[] {
  const words = (packageJson.scripts.start as string).split(' ');
  return words.slice(words.findIndex((word) => !/^[A-Z_]+=/.test(word)));
}

describe('Dockerfile', () => {
  it('has a production-dependencies stage, a page-build stage, a build-time conversion stage and a runtime stage on the plain node image', () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['deps', 'web', 'prepare', 'runtime']);
    expect(dockerfile.args.NODE_IMAGE).toMatch(/^node:\d+-bookworm-slim$/);
    expect(runtime.base).toBe(dockerfile.args.NODE_IMAGE);
    expect(stage('prepare')?.base).toBe('deps');
  });

  it('builds the playground and GraphiQL in their own stage (Vite is a dev dependency) and the image takes only web/dist/', () => {
    const web = stage('web');
    expect(web?.base).toBe(dockerfile.args.NODE_IMAGE);
    expect(commands(web, 'RUN').map((i) => i.args)).toEqual(['npm ci --no-audit --no-fund', '["node", "--import", "tsx", "web/build.ts", "--force"]']);
    expect(commands(runtime, 'COPY').filter((i) => i.args.includes('--from=web')).map((i) => i.args)).toEqual(['--from=web /app/web/dist ./web/dist']);
    // Where the server looks for the pages (src/http/server.ts): the repository root's web/dist.
    expect(readFileSync(join(REPO_ROOT, 'src/http/server.ts'), 'utf8')).toContain("join(config.repoRoot, 'web', 'dist')");
  });

  it('installs production dependencies only: npm ci --omit=dev, and the runtime stage takes its node_modules from there', () => {
    expect(commands(stage('deps'), 'RUN').map((i) => i.args)).toEqual(['npm ci --omit=dev --no-audit --no-fund']);
    expect(copiedPaths(stage('deps'))).toEqual(['package.json', 'package-lock.json', '.npmrc']);
    expect(commands(runtime, 'COPY').filter((i) => i.args.includes('node_modules')).map((i) => i.args)).toEqual(['--from=deps /app/node_modules ./node_modules']);
    // No other installs anywhere: the runtime stage runs no npm, and the conversion stage installs nothing.
    for (const s of [stage('prepare'), runtime]) expect(commands(s, 'RUN').filter((i) => /\bnpm\b/.test(i.args))).toEqual([]);
    // .npmrc keeps onnxruntime-node's install script from downloading anything.
    expect(readFileSync(join(REPO_ROOT, '.npmrc'), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
  });

  it('every package the server and CLI import at run time is a production dependency (npm start runs through tsx)', () => {
    const dependencies = new Set(Object.keys(packageJson.dependencies));
    const imported = new Map([...runtimeImports(join(REPO_ROOT, 'src')), ...runtimeImports(join(REPO_ROOT, 'bin'))]);
    expect(imported.size).toBeGreaterThan(10);
    const missing = [...imported].filter(([name]) => !dependencies.has(name)).map(([name, file]) => `${name} (imported by ${file})`);
    expect(missing).toEqual([]);
    expect(startCommand()).toEqual(['node', '--import', 'tsx', 'src/main.ts']);
    expect(dependencies.has('tsx')).toBe(true);
  });

  it('runs as a numeric non-root user it creates, with the same command as npm start', () => {
    const users = commands(runtime, 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.args.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(commands(runtime, 'RUN').map((i) => i.args).join('\n')).toContain(`--uid ${uid} --gid blip`);
    expect(commands(runtime, 'RUN').map((i) => i.args).join('\n')).toContain(`--gid ${gid} blip`);
    // USER comes after every COPY and RUN, so that nothing later runs as root.
    const index = runtime.instructions.findIndex((i) => i.keyword === 'USER');
    expect(runtime.instructions.slice(index + 1).filter((i) => i.keyword === 'RUN' || i.keyword === 'COPY')).toEqual([]);
    const cmd = commands(runtime, 'CMD');
    expect(cmd).toHaveLength(1);
    expect(execForm(cmd[0]!)).toEqual(startCommand());
    expect(commands(runtime, 'EXPOSE').map((i) => i.args)).toEqual(['4000']);
    // The registry, the one folder the server writes to, belongs to that user.
    expect(commands(runtime, 'COPY').map((i) => i.args)).toContain(`--from=prepare --chown=${uid}:${gid} /app/registry ./registry`);
  });

  it('copies files that exist, the TypeScript config tsx needs, and the checkpoints of every embedded variant', () => {
    for (const path of new Set([...copiedPaths(stage('prepare')), ...copiedPaths(runtime), ...copiedPaths(stage('deps'))])) {
      expect(existsSync(join(REPO_ROOT, path)), path).toBe(true);
    }
    const checkpoints = embeddedCheckpoints();
    expect([...checkpoints.keys()].sort()).toEqual(['blip-demo', 'blip-demo-int8', 'blip-demo-vqa', 'blip-demo-vqa-int8', 'blip-tiny', 'blip-tiny-vqa']);
    for (const s of [stage('prepare'), runtime]) {
      const copied = copiedPaths(s);
      expect(copied).toEqual(expect.arrayContaining(['tsconfig.json', 'bin', 'src']));
      for (const [variant, checkpoint] of checkpoints) expect(copied.some((path) => checkpoint === path || checkpoint.startsWith(`${path}/`)), `${s?.name}: ${variant}`).toBe(true);
    }
    expect(copiedPaths(stage('prepare'))).toContain('registry');
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'registry/*/*', '!registry/*/variant.json']));
  });

  describe('the build-time conversion it runs', () => {
    let registry: string | undefined;
    afterAll(async () => {
      if (registry) await rm(registry, { recursive: true, force: true });
    });

    it('converts every embedded variant into the registry, so that start-up then finds them up to date', async () => {
      const runs = commands(stage('prepare'), 'RUN');
      expect(runs).toHaveLength(1);
      const [command, ...args] = execForm(runs[0]!);
      expect([command, ...args]).toEqual(['node', 'bin/blip-gateway.mjs', 'prepare']);

      // The image's registry/ before conversion: the variant.json files only (.dockerignore leaves out the rest).
      registry = await mkdtemp(join(tmpdir(), 'blip-docker-registry-'));
      for (const entry of await readdir(join(REPO_ROOT, 'registry'), { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        await mkdir(join(registry, entry.name));
        await copyFile(join(REPO_ROOT, 'registry', entry.name, 'variant.json'), join(registry, entry.name, 'variant.json'));
      }
      const run = () => spawnSync(command!, args, { cwd: REPO_ROOT, env: { ...process.env, REGISTRY_DIR: registry!, NODE_ENV: 'production' }, encoding: 'utf8', timeout: 120_000 });

      const first = run();
      expect({ status: first.status, signal: first.signal, stderr: first.status === 0 ? '' : first.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
      const embedded = [...embeddedCheckpoints().keys()].sort();
      for (const variant of embedded) {
        expect(first.stderr).toContain(`converted ${variant} in `);
        const manifest = JSON.parse(readFileSync(join(registry, variant, 'manifest.json'), 'utf8'));
        expect(manifest.name).toBe(variant);
      }
      expect(first.stderr).toContain(`ready: ${embedded.join(', ')}\n`);
      // Official variants are not converted at build time (their weights are downloaded by the operator).
      expect(existsSync(join(registry, 'blip-base', 'manifest.json'))).toBe(false);

      const second = run();
      expect(second.status).toBe(0);
      for (const variant of embedded) expect(second.stderr).toContain(`${variant}: up to date\n`);
      expect(second.stderr).not.toContain('converting');
    });
  });
});

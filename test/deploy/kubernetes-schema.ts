import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../src/config/config.ts';

/**
 * Validation of deploy/kubernetes/ against the Kubernetes API schemas, in two passes:
 * - kubernetes-models' validators (generated from the Kubernetes OpenAPI schema): types, required fields, enums and
 *   formats such as quantities. The OpenAPI schema does not close its objects, so a misspelt field passes it.
 * - the same package's TypeScript interfaces (generated from the same schema), with the compiler's excess-property
 *   check: a field the API does not define is an error, as it is for the API server's strict field validation
 *   (`kubectl apply --validate=strict`).
 */

export const MANIFEST_DIR = join(REPO_ROOT, 'deploy', 'kubernetes');

export interface Manifest {
  /** File name in deploy/kubernetes, with the document's index when the file holds several. */
  source: string;
  object: Record<string, any>;
}

/** The API types the manifests use: `apiVersion/kind` → model class, the module that declares it, its interface. */
const KINDS = {
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
  'autoscaling/v2/HorizontalPodAutoscaler': { model: HorizontalPodAutoscaler, module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', type: 'IHorizontalPodAutoscaler' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy', type: 'INetworkPolicy' },
} as const;

type KindKey = keyof typeof KINDS;

/** Every document of every manifest file (kustomization.yaml is kustomize's, not an API object). */
export function loadManifests(dir = MANIFEST_DIR): Manifest[] {
  const manifests: Manifest[] = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml').sort()) {
    const documents = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
    if (!Array.isArray(documents)) throw new Error(`${file}: not YAML documents`);
    documents.forEach((document, i) => {
      const problems = [...document.errors, ...document.warnings].map((problem) => problem.message);
      if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
      manifests.push({ source: documents.length > 1 ? `${file}#${i}` : file, object: document.toJS() });
    });
  }
  return manifests;
}

/** Schema errors of one object ([] when valid), from kubernetes-models' validator for its apiVersion and kind. */
export function schemaErrors(object: Record<string, any>): string[] {
  const kind = KINDS[kindKey(object)];
  if (!kind) return [`no schema for apiVersion ${JSON.stringify(object.apiVersion)} kind ${JSON.stringify(object.kind)} (add it to KINDS)`];
  try {
    new kind.model(object as never).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/**
 * Fields the Kubernetes API does not define, per manifest: the TypeScript compiler checks each object, as an object
 * literal, against kubernetes-models' interface for its kind. Returns the compiler's messages by manifest source.
 */
export function unknownFieldErrors(manifests: readonly Manifest[]): Map<string, string[]> {
  const imports: string[] = [];
  const declarations: string[] = [];
  const ranges: Array<{ source: string; start: number; end: number }> = [];
  const errors = new Map<string, string[]>(manifests.map((manifest) => [manifest.source, []]));
  manifests.forEach((manifest, i) => {
    const kind = KINDS[kindKey(manifest.object)];
    if (!kind) {
      errors.get(manifest.source)!.push(`no interface for ${kindKey(manifest.object)}`);
      return;
    }
    imports.push(`import type { ${kind.type} as T${i} } from '${kind.module}';`);
    declarations.push(`export const m${i}: T${i} = ${JSON.stringify(manifest.object, null, 1)};`);
  });
  let text = `${imports.join('\n')}\n`;
  manifests.forEach((manifest, i) => {
    const declaration = declarations.find((d) => d.startsWith(`export const m${i}:`));
    if (!declaration) return;
    ranges.push({ source: manifest.source, start: text.length, end: text.length + declaration.length });
    text += `${declaration}\n`;
  });

  // A file that exists only in memory, inside the repository so that `kubernetes-models` resolves from node_modules.
  const virtual = join(REPO_ROOT, 'test', 'deploy', '__manifests__.ts');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    // The manifests are plain data: the ES5 library is all the check needs, and it keeps the program small.
    lib: ['lib.es5.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError, create) => (name === virtual ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, onError, create));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === virtual || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === virtual ? text : readFile(name));
  const program = ts.createProgram([virtual], options, host);
  const source = program.getSourceFile(virtual)!;
  for (const diagnostic of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const range = ranges.find((r) => diagnostic.start !== undefined && diagnostic.start >= r.start && diagnostic.start < r.end);
    if (!range) throw new Error(`the manifest check itself does not compile: ${message}`);
    errors.get(range.source)!.push(message);
  }
  return errors;
}

function kindKey(object: Record<string, any>): KindKey {
  return `${object.apiVersion}/${object.kind}` as KindKey;
}

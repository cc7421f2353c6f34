import { sep } from 'node:path';
import { ErrorCode, type ServiceError } from '../errors.ts';

/**
 * Server folders must not reach clients, but the file names inside them help: a message naming
 * `/srv/app/registry/blip-base/vision_model.onnx` is sent as `blip-base/vision_model.onnx`. `roots` are absolute
 * folders (the registry, the repository); the longest match wins.
 */
export function createPathRedactor(roots: readonly string[]): (message: string) => string {
  const prefixes = [...new Set(roots.map((root) => (root.endsWith(sep) ? root : root + sep)))].sort((a, b) => b.length - a.length);
  return function redactPaths(message: string): string {
    let result = message;
    for (const prefix of prefixes) result = result.split(prefix).join('');
    return result;
  };
}

/**
 * A ServiceError's message as a client sees it: server folders removed, except from MODEL_NOT_INSTALLED, whose
 * message is the command an operator runs on the server (its paths are the point).
 */
export function clientMessage(error: ServiceError, redact: ((message: string) => string) | undefined): string {
  return redact && error.code !== ErrorCode.MODEL_NOT_INSTALLED ? redact(error.message) : error.message;
}

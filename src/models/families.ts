import { ErrorCode, ServiceError } from '../errors.ts';
import { blipFamily } from './blip/family.ts';
import type { ModelFamily } from './family.ts';

/** Every model family this server can serve, by the `family` name in variant manifests. A new family adds one line. */
export const FAMILIES: Readonly<Record<string, ModelFamily>> = Object.freeze({
  [blipFamily.name]: blipFamily,
});

export function familyOf(name: string, variantDir: string): ModelFamily {
  const family = FAMILIES[name];
  if (!family) {
    throw new ServiceError(ErrorCode.MODEL_LOAD_FAILED, `${variantDir}: unknown model family ${JSON.stringify(name)} (this server knows ${Object.keys(FAMILIES).join(', ')})`, {
      details: { family: name },
    });
  }
  return family;
}

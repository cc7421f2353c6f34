/**
 * How far an int8 variant strays from its fp32 twin, measured on the model outputs that matter for generation:
 * - image-embedding cosine: the vision encoder's output per image, all tokens flattened;
 * - teacher-forced top-1 agreement: both decoders are fed the same tokens (the fp32 model's greedy choices, so neither
 *   drifts onto another path) and at every step we check whether their highest-scoring next token is the same.
 * Each model runs its own full stack: the int8 decoder reads K/V from the int8 cross-K/V graph over int8 embeddings.
 */
import type { BlipModel } from '../../src/models/blip/runtime/blip-model.ts';

export interface Int8Comparison {
  images: number;
  steps: number;
  /** Cosine of each image's embedding, int8 against fp32. */
  embeddingCosines: number[];
  /** Share of (image, step) pairs whose argmax agrees. */
  top1Agreement: number;
  /** The fp32 model's greedy tokens per image (what both decoders were fed). */
  tokens: number[][];
  /**
   * At each disagreement, how far apart fp32 put the two choices: fp32 logit of its own top token minus its logit of
   * int8's top token, in units of the standard deviation of that row's fp32 logits. Small values are near-ties.
   */
  disagreementMargins: number[];
  /** Median over all (image, step) pairs of fp32's gap between its best and second-best logit, in the same units. */
  medianTop2Gap: number;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = from; i < to; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

export function argmaxRows(logits: Float32Array, rows: number): number[] {
  const vocab = logits.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[r * vocab + v] > logits[r * vocab + best]) best = v;
    return best;
  });
}

/** Compares two captioning models on `count` preprocessed images (`pixels [count, 3, H, W]`), over `steps` decode steps. */
export async function compareCaptionModels(fp32: BlipModel, int8: BlipModel, pixels: Float32Array, count: number, steps: number): Promise<Int8Comparison> {
  const embeds32 = await fp32.encodeImages(pixels, count);
  const embeds8 = await int8.encodeImages(pixels, count);
  const perImage = embeds32.length / count;
  const embeddingCosines = Array.from({ length: count }, (_, i) => cosine(embeds32, embeds8, i * perImage, (i + 1) * perImage));

  const tokensPerImage = fp32.imageTokens;
  const lengths = new Array<number>(count).fill(tokensPerImage);
  const decoder32 = fp32.createDecoder(await fp32.crossContexts(embeds32, count, tokensPerImage, lengths));
  const decoder8 = int8.createDecoder(await int8.crossContexts(embeds8, count, tokensPerImage, lengths));
  const bos = fp32.manifest.tokenizer.ids.bos;
  const rows = Array.from({ length: count }, (_, i) => ({ context: i, tokens: [bos] }));
  const identity = rows.map((_, i) => i);
  let logits32 = await decoder32.start(rows);
  let logits8 = await decoder8.start(rows);
  const tokens: number[][] = rows.map(() => []);
  let agree = 0;
  const disagreementMargins: number[] = [];
  const vocab = fp32.manifest.dims.vocabSize;
  const gaps: number[] = [];
  for (let step = 0; step < steps; step++) {
    const chosen = argmaxRows(logits32, count);
    const chosen8 = argmaxRows(logits8, count);
    chosen.forEach((token, i) => {
      gaps.push(top2Gap(logits32, i * vocab, (i + 1) * vocab) / std(logits32, i * vocab, (i + 1) * vocab));
      if (token === chosen8[i]) agree++;
      else disagreementMargins.push((logits32[i * vocab + token] - logits32[i * vocab + chosen8[i]]) / std(logits32, i * vocab, (i + 1) * vocab));
      tokens[i].push(token);
    });
    if (step + 1 < steps) {
      logits32 = await decoder32.next(identity, chosen);
      logits8 = await decoder8.next(identity, chosen);
    }
  }
  decoder32.dispose();
  decoder8.dispose();
  gaps.sort((a, b) => a - b);
  const medianTop2Gap = gaps[Math.floor(gaps.length / 2)];
  return { images: count, steps, embeddingCosines, top1Agreement: agree / (count * steps), tokens, disagreementMargins, medianTop2Gap };
}

function top2Gap(values: Float32Array, from: number, to: number): number {
  let best = -Infinity;
  let second = -Infinity;
  for (let i = from; i < to; i++) {
    if (values[i] > best) [best, second] = [values[i], best];
    else if (values[i] > second) second = values[i];
  }
  return best - second;
}

/** Standard deviation of `values[from..to)`: the scale logit differences are measured in. */
export function std(values: Float32Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += values[i];
  const mean = sum / (to - from);
  let squares = 0;
  for (let i = from; i < to; i++) squares += (values[i] - mean) ** 2;
  return Math.sqrt(squares / (to - from));
}

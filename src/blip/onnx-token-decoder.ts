import type * as ort from 'onnxruntime-node';
import { DecoderIO } from '../convert/text-graphs.ts';
import { floatData, floatTensor, int64Tensor, type Feeds, type OnnxSession } from '../runtime/onnx-session.ts';
import { MASKED, stackCrossContexts, type CrossContext } from './cross-context.ts';
import type { TokenDecoder } from './generation/token-decoder.ts';

export interface DecoderDims {
  layers: number;
  heads: number;
  headDim: number;
  vocabSize: number;
  padTokenId: number;
}

/**
 * `TokenDecoder` over the decoder step graph. It keeps, per live row, the attention mask of its cache (left padding of
 * shorter prompts is masked out), its next position id and its context; the self-attention cache itself stays in the
 * tensors the graph returned, reordered by the graph from `parents`. Rows with different prompt lengths therefore
 * compute exactly what they would compute alone.
 */
export class OnnxTokenDecoder implements TokenDecoder {
  readonly vocabSize: number;
  private rowContexts: number[] = [];
  private rowMasks: Uint8Array[] = [];
  private rowPositions: number[] = [];
  private pastKeys: ort.Tensor[] = [];
  private pastValues: ort.Tensor[] = [];
  private cross: { signature: string; feeds: Feeds } | undefined;
  private disposed = false;

  constructor(
    private readonly session: OnnxSession,
    private readonly dims: DecoderDims,
    private readonly contexts: readonly CrossContext[],
  ) {
    this.vocabSize = dims.vocabSize;
  }

  async start(rows: ReadonlyArray<{ context: number; tokens: ReadonlyArray<number> }>): Promise<Float32Array> {
    this.assertUsable();
    const batch = rows.length;
    if (batch === 0) return new Float32Array(0);
    const width = Math.max(...rows.map((r) => r.tokens.length));
    const ids = new Array<number>(batch * width).fill(this.dims.padTokenId);
    const positions = new Array<number>(batch * width).fill(0);
    this.rowMasks = [];
    rows.forEach((row, b) => {
      if (row.tokens.length === 0) throw new Error('Every row needs at least one prompt token');
      const offset = width - row.tokens.length;
      const mask = new Uint8Array(width);
      row.tokens.forEach((token, i) => {
        ids[b * width + offset + i] = token;
        positions[b * width + offset + i] = i;
        mask[offset + i] = 1;
      });
      this.rowMasks.push(mask);
    });
    this.rowContexts = rows.map((r) => r.context);
    this.rowPositions = rows.map((r) => r.tokens.length);

    const { heads, headDim } = this.dims;
    const empty = floatTensor(new Float32Array(0), [batch, heads, 0, headDim]);
    this.pastKeys = Array.from({ length: this.dims.layers }, () => empty);
    this.pastValues = this.pastKeys;

    const bias = new Float32Array(batch * width * width);
    for (let b = 0; b < batch; b++) {
      const mask = this.rowMasks[b];
      for (let i = 0; i < width; i++) {
        for (let j = 0; j < width; j++) bias[(b * width + i) * width + j] = j <= i && mask[j] === 1 ? 0 : MASKED;
      }
    }
    return this.step(ids, positions, width, bias, Array.from({ length: batch }, (_, i) => i));
  }

  async next(parents: ReadonlyArray<number>, tokens: ReadonlyArray<number>): Promise<Float32Array> {
    this.assertUsable();
    if (parents.length !== tokens.length) throw new Error(`parents (${parents.length}) and tokens (${tokens.length}) differ in length`);
    const batch = parents.length;
    if (batch === 0) return new Float32Array(0);
    const previousRows = this.rowContexts.length;
    for (const p of parents) {
      if (!Number.isInteger(p) || p < 0 || p >= previousRows) throw new Error(`parent ${p} is not a row of the previous step (0..${previousRows - 1})`);
    }
    const total = this.rowMasks[0].length + 1;
    this.rowMasks = parents.map((p) => {
      const mask = new Uint8Array(total);
      mask.set(this.rowMasks[p]);
      mask[total - 1] = 1;
      return mask;
    });
    this.rowContexts = parents.map((p) => this.rowContexts[p]);
    const positions = parents.map((p) => this.rowPositions[p]);
    this.rowPositions = positions.map((p) => p + 1);

    const bias = new Float32Array(batch * total);
    this.rowMasks.forEach((mask, b) => {
      for (let j = 0; j < total; j++) bias[b * total + j] = mask[j] === 1 ? 0 : MASKED;
    });
    return this.step(tokens, positions, 1, bias, parents);
  }

  dispose(): void {
    this.disposed = true;
    this.pastKeys = [];
    this.pastValues = [];
    this.cross = undefined;
  }

  private async step(ids: ArrayLike<number>, positions: ArrayLike<number>, width: number, selfBias: Float32Array, parents: ArrayLike<number>): Promise<Float32Array> {
    const batch = parents.length;
    const total = selfBias.length / (batch * width);
    const feeds: Feeds = {
      [DecoderIO.inputIds]: int64Tensor(ids, [batch, width]),
      [DecoderIO.positionIds]: int64Tensor(positions, [batch, width]),
      [DecoderIO.selfBias]: floatTensor(selfBias, [batch, 1, width, total]),
      [DecoderIO.parents]: int64Tensor(parents, [batch]),
      ...this.crossFeeds(),
    };
    for (let layer = 0; layer < this.dims.layers; layer++) {
      feeds[DecoderIO.pastKey(layer)] = this.pastKeys[layer];
      feeds[DecoderIO.pastValue(layer)] = this.pastValues[layer];
    }
    const out = await this.session.run(feeds);
    this.pastKeys = Array.from({ length: this.dims.layers }, (_, layer) => out[DecoderIO.presentKey(layer)]);
    this.pastValues = Array.from({ length: this.dims.layers }, (_, layer) => out[DecoderIO.presentValue(layer)]);
    return floatData(out[DecoderIO.logits]);
  }

  /** Cross K/V inputs for the current rows; rebuilt only when the rows' contexts changed (rows left or reordered). */
  private crossFeeds(): Feeds {
    const signature = this.rowContexts.join(',');
    if (this.cross?.signature === signature) return this.cross.feeds;
    const { heads, headDim } = this.dims;
    const stacked = stackCrossContexts(this.contexts, this.rowContexts, heads, headDim);
    const batch = this.rowContexts.length;
    const feeds: Feeds = { [DecoderIO.crossBias]: floatTensor(stacked.bias, [batch, 1, 1, stacked.length]) };
    for (let layer = 0; layer < this.dims.layers; layer++) {
      feeds[DecoderIO.crossKey(layer)] = floatTensor(stacked.keys[layer], [batch, heads, headDim, stacked.length]);
      feeds[DecoderIO.crossValue(layer)] = floatTensor(stacked.values[layer], [batch, heads, stacked.length, headDim]);
    }
    this.cross = { signature, feeds };
    return feeds;
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('This decoder was disposed');
  }
}

import { join } from 'node:path';
import { CrossKvIO, DecoderIO, QuestionEncoderIO, VISION_INPUT, VISION_OUTPUT } from '../graph-names.ts';
import { floatData, floatTensor, int64Tensor, OnnxSession, type SessionOptions } from '../../../runtime/onnx-session.ts';
import { ErrorCode, ServiceError } from '../../../errors.ts';
import { chooseGraphFile, type LoadedFrom } from '../../../runtime/optimized-model.ts';
import type { VariantManifest } from '../../../variant/manifest.ts';
import { readCrossOutputs, splitCrossContexts, type CrossContext, type KvPrecision } from './cross-context.ts';
import { visionSessionOptions } from './graph-session-options.ts';
import { OnnxTokenDecoder, type DecoderOptions } from './onnx-token-decoder.ts';

/**
 * The ONNX sessions of one variant and the model-level operations on them: encode images, encode questions,
 * precompute cross-attention contexts, and create token decoders. Knows nothing about text or generation options.
 */
export class BlipModel {
  private constructor(
    readonly manifest: VariantManifest,
    /** Whether the sessions came from the saved optimized graphs or from the originals (optimized again at load). */
    readonly loadedFrom: LoadedFrom,
    private readonly vision: OnnxSession,
    private readonly crossKv: OnnxSession,
    private readonly decoder: OnnxSession,
    private readonly questionEncoder: OnnxSession | undefined,
  ) {}

  /**
   * Loads the saved optimized graphs when they fit this ONNX Runtime and CPU (optimized-model.ts), else the originals,
   * telling `onWarning` why: a variant that loads slowly should say so, and how to make it fast again.
   */
  static async load(dir: string, manifest: VariantManifest, options: SessionOptions = {}, onWarning: (message: string) => void = warnProcess): Promise<BlipModel> {
    const graphs = [manifest.graphs.vision, manifest.graphs.crossKv, manifest.graphs.decoder, manifest.graphs.questionEncoder].filter((g) => g !== undefined);
    let choices = await Promise.all(graphs.map((graph) => chooseGraphFile(dir, graph, manifest.optimized)));
    const reason = choices.find((c) => c.reason)?.reason;
    // All or nothing, so that `loadedFrom` has one answer.
    if (reason !== undefined) {
      onWarning(`${manifest.name}: loading the original graphs, optimized at every load (slower), because ${reason}; run \`blip-gateway optimize ${dir}\` to write optimized graphs for this machine`);
      choices = graphs.map((graph) => ({ file: join(dir, graph), from: 'original' as const }));
    }
    const sessions: OnnxSession[] = [];
    try {
      for (const [index, choice] of choices.entries()) {
        const graphOptions = graphs[index] === manifest.graphs.vision ? visionSessionOptions(options) : options;
        sessions.push(await OnnxSession.load(choice.file, graphOptions, choice.from === 'optimized'));
      }
      const [vision, crossKv, decoder, questionEncoder] = sessions;
      assertDecoderForm(manifest, decoder);
      return new BlipModel(manifest, reason === undefined ? 'optimized' : 'original', vision, crossKv, decoder, questionEncoder);
    } catch (error) {
      await Promise.all(sessions.map((s) => s.release()));
      throw error;
    }
  }

  get imageTokens(): number {
    return this.manifest.dims.imageTokens;
  }

  /** The cross K/V element type of the variant's cross K/V and decoder graphs. */
  get crossKvPrecision(): KvPrecision {
    const precision = this.manifest.crossKvPrecision ?? 'fp32';
    if (precision === 'fp16') throw new Error(`${this.manifest.name}: fp16 cross K/V is not supported by this runtime`);
    return precision;
  }

  private get headDim(): number {
    return this.manifest.dims.textHidden / this.manifest.dims.textHeads;
  }

  /** `pixelValues [n, 3, H, W]` → image embeddings `[n, imageTokens, visionHidden]`. */
  async encodeImages(pixelValues: Float32Array, count: number): Promise<Float32Array> {
    const { width, height } = this.manifest.preprocess;
    const out = await this.vision.run({ [VISION_INPUT]: floatTensor(pixelValues, [count, 3, height, width]) });
    return floatData(out[VISION_OUTPUT]);
  }

  /**
   * VQA text encoder over right-padded questions (each `[CLS] … [SEP]`), cross-attending to the images.
   * Returns `[n, maxLength, textHidden]` states and the padded length.
   */
  async encodeQuestions(imageEmbeds: Float32Array, questions: ReadonlyArray<ReadonlyArray<number>>): Promise<{ states: Float32Array; paddedLength: number }> {
    if (!this.questionEncoder) throw new Error(`${this.manifest.name} is not a VQA model`);
    const n = questions.length;
    const paddedLength = Math.max(...questions.map((q) => q.length));
    const ids = new Array<number>(n * paddedLength).fill(this.manifest.tokenizer.ids.pad);
    const mask = new Array<number>(n * paddedLength).fill(0);
    questions.forEach((q, row) =>
      q.forEach((token, i) => {
        ids[row * paddedLength + i] = token;
        mask[row * paddedLength + i] = 1;
      }),
    );
    const out = await this.questionEncoder.run({
      [QuestionEncoderIO.inputIds]: int64Tensor(ids, [n, paddedLength]),
      [QuestionEncoderIO.attentionMask]: int64Tensor(mask, [n, paddedLength]),
      [QuestionEncoderIO.imageEmbeds]: floatTensor(imageEmbeds, [n, this.imageTokens, this.manifest.dims.visionHidden]),
    });
    return { states: floatData(out[QuestionEncoderIO.output]), paddedLength };
  }

  /** Cross-attention K/V of every decoder layer for `n` encoder outputs of `paddedLength` positions (`lengths` real). */
  async crossContexts(states: Float32Array, n: number, paddedLength: number, lengths: readonly number[]): Promise<CrossContext[]> {
    const width = states.length / (n * paddedLength);
    const out = await this.crossKv.run({ [CrossKvIO.states]: floatTensor(states, [n, paddedLength, width]) });
    const { textLayers, textHeads } = this.manifest.dims;
    return splitCrossContexts(readCrossOutputs(out, textLayers, this.crossKvPrecision), n, paddedLength, lengths, textHeads, this.headDim);
  }

  /** A decoder over `contexts` (indices 0…); more can be added while it decodes (`addContext`). */
  createDecoder(contexts: readonly CrossContext[] = [], options: DecoderOptions = {}): OnnxTokenDecoder {
    const { textLayers, textHeads, vocabSize } = this.manifest.dims;
    const dims = { layers: textLayers, heads: textHeads, headDim: this.headDim, vocabSize, padTokenId: this.manifest.tokenizer.ids.pad, crossKv: this.crossKvPrecision };
    return new OnnxTokenDecoder(this.decoder, dims, contexts, options);
  }

  async release(): Promise<void> {
    await Promise.all([this.vision, this.crossKv, this.decoder, this.questionEncoder].map((s) => s?.release()));
  }
}

/**
 * The decoder graph must return only its new keys and values (converter version 5): an older folder's graph gathers
 * and returns the whole cache (`present_key_i`), which this runtime does not feed. Registry and hub installs are
 * converted again on their own; a folder loaded as it is gets this error instead of a failure at the first request.
 */
function assertDecoderForm(manifest: VariantManifest, decoder: OnnxSession): void {
  if (decoder.outputNames.includes(DecoderIO.newKey(0))) return;
  throw new ServiceError(
    ErrorCode.MODEL_LOAD_FAILED,
    `${manifest.name}: its decoder graph (converter version ${manifest.converter.version}) returns the whole self-attention cache, which this runtime does not read; convert the variant again`,
    { details: { file: decoder.file } },
  );
}

function warnProcess(message: string): void {
  process.emitWarning(message, 'BlipLoadWarning');
}

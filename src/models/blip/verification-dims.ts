import type { DimensionSet } from '../../runtime/optimized-model.ts';
import type { GraphFiles } from '../../variant/manifest.ts';

/**
 * Inputs on which a graph saved with prepacked weights must run exactly like its original (runtime/optimized-model.ts):
 * one row, which takes ONNX Runtime's matrix-vector path, and several rows, which takes the packed GEMM. Sizes follow
 * BLIP's graph contract (graph-names.ts): a decoder step's total length is its cache capacity plus its new positions.
 */
export function verificationDims(graphs: GraphFiles): Record<string, DimensionSet[]> {
  const dims: Record<string, DimensionSet[]> = {
    [graphs.vision]: [{ batch: 1 }, { batch: 2 }],
    [graphs.crossKv]: [
      { batch: 1, encoder_sequence: 1 },
      { batch: 2, encoder_sequence: 5 },
    ],
    [graphs.decoder]: [
      { batch: 1, sequence: 1, capacity: 2, total_sequence: 3, encoder_sequence: 5 },
      { batch: 3, sequence: 2, capacity: 2, total_sequence: 4, encoder_sequence: 5 },
    ],
  };
  if (graphs.questionEncoder) {
    dims[graphs.questionEncoder] = [
      { batch: 1, sequence: 1, image_sequence: 5 },
      { batch: 2, sequence: 3, image_sequence: 5 },
    ];
  }
  return dims;
}

/** What a variant serves; every family maps its architectures onto these. */
export type Task = 'caption' | 'vqa';

/** Numeric precision of a variant's weights and matmuls. */
export type Precision = 'fp32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

/**
 * The effective configuration of a BLIP checkpoint, after transformers' BlipConfig defaulting rules were applied
 * (see ../shared/docs/blip-spec.md §1.8). Every dimension the converter uses comes from here.
 */
export type BlipArchitecture = 'BlipForConditionalGeneration' | 'BlipForQuestionAnswering';
export type BlipTask = 'caption' | 'vqa';

export interface BlipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  hiddenAct: 'gelu';
  layerNormEps: number;
}

export interface BlipTextConfig {
  vocabSize: number;
  hiddenSize: number;
  /** Always the vision hidden size (BlipConfig overwrites whatever the file says). */
  encoderHiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  hiddenAct: 'gelu';
  layerNormEps: number;
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number;
  sepTokenId: number;
}

/** Generation defaults as transformers derives them for the text decoder (PretrainedConfig keys of text_config). */
export interface BlipGenerationDefaults {
  maxLength: number;
  minLength: number;
  numBeams: number;
  lengthPenalty: number;
  repetitionPenalty: number;
  earlyStopping: boolean;
}

export interface BlipConfig {
  architecture: BlipArchitecture;
  task: BlipTask;
  vision: BlipVisionConfig;
  text: BlipTextConfig;
  generation: BlipGenerationDefaults;
  /** Human-readable notes about defaults that were applied and look suspicious (e.g. 8 text heads on a 768-wide model). */
  warnings: string[];
}

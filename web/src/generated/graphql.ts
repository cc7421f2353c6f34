/* eslint-disable */
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = T | null | undefined;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** A date-time string at UTC, such as 2007-12-03T10:15:30Z, compliant with the `date-time` format outlined in section 5.6 of the RFC 3339 profile of the ISO 8601 standard for representation of dates and times using the Gregorian calendar.This scalar is serialized to a string in ISO 8601 format and parsed from a string in ISO 8601 format. */
  DateTimeISO: { input: string; output: string; }
  /** The `SafeInt` scalar type represents non-fractional signed whole numeric values that are considered safe as defined by the ECMAScript specification. */
  SafeInt: { input: number; output: number; }
  /** The `Upload` scalar type represents a file upload. */
  Upload: { input: File; output: File; }
};

export type AnswerInput = {
  image: ImageInput;
  /** Variant name or alias; unset = the default VQA variant. */
  model?: InputMaybe<Scalars['String']['input']>;
  options?: InputMaybe<GenerationOptionsInput>;
  /** The question about the image. */
  question: Scalars['String']['input'];
  /** Fail with DEADLINE_EXCEEDED unless the result is ready within this many milliseconds (1..600000). */
  timeoutMs?: InputMaybe<Scalars['Int']['input']>;
};

export type AnswerResult = {
  /** The answer. */
  answer: Scalars['String']['output'];
  /** The most decoder rows (requests × beams) that shared a decode step with this request. */
  batchSize: Scalars['Int']['output'];
  /** The canonical name of the variant that served the request. */
  model: Scalars['String']['output'];
  /** Token ids of the generated answer ([BOS], tokens, [SEP]). */
  sequence: Array<Scalars['Int']['output']>;
  timings: Timings;
};

/** One step of a streamed answer: the text so far, then a last event with the result. */
export type AnswerStreamEvent = {
  /** What this event added to the previous event's text (empty when nothing was added; after a beam-search step the text may be rewritten, so show `text` rather than appending deltas). */
  delta: Scalars['String']['output'];
  /** True on the last event only, which carries `result`. */
  done: Scalars['Boolean']['output'];
  /** On the last event: what the `answer` mutation returns for the same input (its `answer` equals `text`). */
  result?: Maybe<AnswerResult>;
  /** The whole text decoded so far (with beam search: the current best hypothesis, which may still change). */
  text: Scalars['String']['output'];
};

/** How the engine batches a variant's concurrent requests. */
export type BatchingSettings = {
  /** Most requests one batched model pass takes. */
  maxBatchSize: Scalars['Int']['output'];
  /** Longest a request waits for others to join its batch while the model is busy. */
  maxQueueDelayMs: Scalars['Float']['output'];
  /** Most requests queued or computing for the variant; beyond it requests fail with OVERLOADED. */
  maxQueueSize: Scalars['Int']['output'];
};

export type CaptionInput = {
  image: ImageInput;
  /** Variant name or alias; unset = the default caption variant. */
  model?: InputMaybe<Scalars['String']['input']>;
  options?: InputMaybe<GenerationOptionsInput>;
  /** Text the caption starts with (conditional captioning), e.g. "a picture of". */
  prompt?: InputMaybe<Scalars['String']['input']>;
  /** Fail with DEADLINE_EXCEEDED unless the result is ready within this many milliseconds (1..600000). */
  timeoutMs?: InputMaybe<Scalars['Int']['input']>;
};

export type CaptionResult = {
  /** The most decoder rows (requests × beams) that shared a decode step with this request. */
  batchSize: Scalars['Int']['output'];
  /** The caption (it starts with the prompt when one was given, as in transformers). */
  caption: Scalars['String']['output'];
  /** The canonical name of the variant that served the request. */
  model: Scalars['String']['output'];
  /** Token ids of the decoder sequence ([DEC], prompt, generated tokens). */
  sequence: Array<Scalars['Int']['output']>;
  timings: Timings;
};

/** One step of a streamed caption: the text so far, then a last event with the result. */
export type CaptionStreamEvent = {
  /** What this event added to the previous event's text (empty when nothing was added; after a beam-search step the text may be rewritten, so show `text` rather than appending deltas). */
  delta: Scalars['String']['output'];
  /** True on the last event only, which carries `result`. */
  done: Scalars['Boolean']['output'];
  /** On the last event: what the `caption` mutation returns for the same input (its `caption` equals `text`). */
  result?: Maybe<CaptionResult>;
  /** The whole text decoded so far (with beam search: the current best hypothesis, which may still change). */
  text: Scalars['String']['output'];
};

/** Decoding options (transformers' GenerationConfig names). Unset fields take the variant's defaults. Lengths count tokens of the decoder sequence, [DEC] and prompt included; maxNewTokens counts generated tokens only and wins over maxLength. Out-of-range values are refused with BAD_USER_INPUT. */
export type GenerationOptionsInput = {
  /** Beam search length penalty exponent. [-10, 10]. */
  lengthPenalty?: InputMaybe<Scalars['Float']['input']>;
  /** Longest sequence, prompt included. 1..the model's position limit. */
  maxLength?: InputMaybe<Scalars['Int']['input']>;
  /** Most generated tokens (overrides maxLength). */
  maxNewTokens?: InputMaybe<Scalars['Int']['input']>;
  /** Shortest sequence, prompt included. 0..the model's position limit. */
  minLength?: InputMaybe<Scalars['Int']['input']>;
  /** Beam search width; 1 = greedy. 1..16. */
  numBeams?: InputMaybe<Scalars['Int']['input']>;
  /** Penalty for tokens already in the sequence; 1 = none. (0, 100]. */
  repetitionPenalty?: InputMaybe<Scalars['Float']['input']>;
};

/** An image: set exactly one field. Accepted formats: JPEG, PNG, WebP, GIF (first frame), TIFF, AVIF/HEIF. */
export type ImageInput = {
  /** The file as base64 (standard or URL-safe), or a data: URL (data:image/png;base64,...). */
  base64?: InputMaybe<Scalars['String']['input']>;
  /** The id `uploadImage` returned, to reuse an image without sending it again. */
  imageId?: InputMaybe<Scalars['ID']['input']>;
  /** A file sent with the GraphQL multipart request spec. Multipart requests must carry an `apollo-require-preflight` (or `x-apollo-operation-name`) header, else they are refused as possible CSRF. */
  upload?: InputMaybe<Scalars['Upload']['input']>;
  /** An http(s) URL to fetch. Off unless the server allow-lists hosts (IMAGE_URL_ALLOWED_HOSTS). */
  url?: InputMaybe<Scalars['String']['input']>;
};

/** The step an install is at. */
export type InstallPhase =
  | 'CONVERTING'
  | 'DONE'
  | 'DOWNLOADING'
  | 'FAILED'
  | 'RESOLVING';

/** Where an install from the API is. */
export type InstallState =
  /** Installed and taken by the registry: the variant serves. */
  | 'DONE'
  /** Stopped (see `error`); installModel again resumes the download. */
  | 'FAILED'
  /** Downloading or converting. */
  | 'RUNNING';

/** The limits this server enforces (configured at start-up). */
export type Limits = {
  /** How long an uploaded image is kept after its last use, in seconds. */
  imageTtlSeconds: Scalars['Int']['output'];
  /** Can images be fetched by url? */
  imageUrlEnabled: Scalars['Boolean']['output'];
  /** Most items in one captionBatch or answerBatch. */
  maxBatchItems: Scalars['Int']['output'];
  /** Largest request body in bytes (JSON or multipart). */
  maxBodyBytes: Scalars['SafeInt']['output'];
  /** Largest image file in bytes. */
  maxImageBytes: Scalars['SafeInt']['output'];
  /** Most pixels (width × height) of an image. */
  maxImagePixels: Scalars['SafeInt']['output'];
  /** Longest caption prompt in characters. */
  maxPromptChars: Scalars['Int']['output'];
  /** Deepest selection of an operation. */
  maxQueryDepth: Scalars['Int']['output'];
  /** Most fields (aliases included) in an operation. */
  maxQueryFields: Scalars['Int']['output'];
  /** Longest question in characters. */
  maxQuestionChars: Scalars['Int']['output'];
};

/** A model variant in the registry. */
export type Model = {
  /** Other names requests may use, e.g. the Hugging Face id. */
  aliases: Array<Scalars['String']['output']>;
  batching: BatchingSettings;
  /** Bytes on disk of the converted files (when installed). */
  bytes?: Maybe<Scalars['SafeInt']['output']>;
  description: Scalars['String']['output'];
  /** The last install from the API (installModel, AUTO_INSTALL) since the server started; null when none. */
  install?: Maybe<ModelInstall>;
  /** The command that installs the variant, when it is not installed. */
  installCommand?: Maybe<Scalars['String']['output']>;
  /** Are the converted model files present? */
  installed: Scalars['Boolean']['output'];
  /** Is this the variant used when a request names none, for its task? */
  isDefault: Scalars['Boolean']['output'];
  /** Why the last load failed (state FAILED). */
  loadError?: Maybe<ModelLoadError>;
  /** What the memory budget counts for the variant when loaded: weights plus working memory (when installed). */
  memory?: Maybe<ModelMemory>;
  /** The canonical name (what results report in `model`). */
  name: Scalars['String']['output'];
  /** Number of parameters (when installed). */
  parameters?: Maybe<Scalars['SafeInt']['output']>;
  /** Never evicted to make room in the memory budget (PIN_MODELS, or pinModel). */
  pinned: Scalars['Boolean']['output'];
  /** fp32, or int8 (`convert --precision int8`). */
  precision: ModelPrecision;
  /** The Hugging Face commit the installed files were converted from (pulled variants), else null. */
  revision?: Maybe<Scalars['String']['output']>;
  /** The Hugging Face id or checkpoint folder the variant is made from. */
  source: Scalars['String']['output'];
  state: ModelState;
  task: ModelTask;
};

/** Progress of an install from the Hugging Face Hub started through the API. */
export type ModelInstall = {
  /** Bytes of the checkpoint's files present so far (cached ones count at once). */
  bytesDone: Scalars['SafeInt']['output'];
  /** Bytes of the files to download (0 until they are listed). */
  bytesTotal: Scalars['SafeInt']['output'];
  /** Why it failed: `KIND: message`, e.g. `UNAUTHORIZED: … set HF_TOKEN`. */
  error?: Maybe<Scalars['String']['output']>;
  phase: InstallPhase;
  /** The 40-character commit being installed, once resolved. */
  revision?: Maybe<Scalars['String']['output']>;
  state: InstallState;
};

/** Why the last load of a variant failed. */
export type ModelLoadError = {
  /** An error code, e.g. MODEL_LOAD_FAILED. */
  code: Scalars['String']['output'];
  message: Scalars['String']['output'];
};

/** What the memory budget (MODEL_MEMORY_BUDGET_BYTES) counts for a variant while it is loaded: its weights plus a bound on its working memory, computed from its settings. The variant never uses more than `workingBytes` beyond its weights, whatever the load: more requests wait instead. */
export type ModelMemory = {
  /** weightBytes + workingBytes: what it takes of the memory budget. */
  totalBytes: Scalars['SafeInt']['output'];
  /** Bytes of its weights: the converted files (ONNX graphs with their weights, tokenizer), held once in memory. */
  weightBytes: Scalars['SafeInt']['output'];
  /** Bound on its working memory in bytes: decoder rows (`batching.maxRows`) × each row's attention caches, the vision encoder's batch × its activations, the embedding cache, and a fixed overhead. */
  workingBytes: Scalars['SafeInt']['output'];
};

/** The number format of a variant's weights. */
export type ModelPrecision =
  /** float32 throughout, as the checkpoint. */
  | 'FP32'
  /** MatMul weights in int8 with int8 activations at run time (about a quarter of the weight bytes); LayerNorm, softmax and embeddings stay float32. */
  | 'INT8';

/** Where a variant is in its lifecycle. Variants load lazily, on their first request. */
export type ModelState =
  /** The last load failed (see `loadError`); the next request tries again. */
  | 'FAILED'
  /** The first request is loading it; concurrent requests wait for the same load. */
  | 'LOADING'
  /** Loaded in its inference worker. */
  | 'READY'
  /** Not loaded yet (or unloaded). */
  | 'UNLOADED';

/** What a variant does. */
export type ModelTask =
  /** Image captioning (the `caption` mutations). */
  | 'CAPTION'
  /** Visual question answering (the `answer` mutations). */
  | 'VQA';

export type Mutation = {
  /** Answers one question about one image. For several questions at once, use answerBatch. */
  answer: AnswerResult;
  /** Answers several questions concurrently (about one image by imageId, or about several), so that the engine batches them. A failed item is null with its own error (path ["answerBatch", i]). */
  answerBatch: Array<Maybe<AnswerResult>>;
  /** Captions one image. To caption several images at once, use captionBatch. */
  caption: CaptionResult;
  /** Captions several images concurrently, so that the engine batches them. Results are in input order; a failed item is null and has its own error (path ["captionBatch", i]). At most `limits.maxBatchItems` items. */
  captionBatch: Array<Maybe<CaptionResult>>;
  /** Admin: downloads a variant from the Hugging Face Hub and converts it, in the background (as `npx blip-gateway pull`); returns at once. Follow `install` in `models`; the variant serves once it is DONE, without a restart. A second call while one runs joins it. */
  installModel: Model;
  /** Admin: loads a variant now (or waits for its load in progress). May evict others for the memory budget. */
  loadModel: Model;
  /** Admin: pins (never evicted for the memory budget) or unpins a variant. */
  pinModel: Model;
  /** Admin: reads the registry folder again and takes new or changed variants without a restart. */
  rescanRegistry: RescanResult;
  /** Admin: stops a variant's worker. Refused with MODEL_IN_USE while it runs requests, loads, or is pinned. */
  unloadModel: Model;
  /** Stores an image for a while (a bounded store keyed by content hash: in memory, or in Redis shared by every replica) and returns its id, so that several requests can use it by `imageId` without sending it again. The format is checked now; the image is decoded when it is used. */
  uploadImage: UploadedImage;
};


export type MutationAnswerArgs = {
  input: AnswerInput;
};


export type MutationAnswerBatchArgs = {
  inputs: Array<AnswerInput>;
};


export type MutationCaptionArgs = {
  input: CaptionInput;
};


export type MutationCaptionBatchArgs = {
  inputs: Array<CaptionInput>;
};


export type MutationInstallModelArgs = {
  name: Scalars['String']['input'];
  precision?: InputMaybe<Precision>;
  revision?: InputMaybe<Scalars['String']['input']>;
};


export type MutationLoadModelArgs = {
  name: Scalars['String']['input'];
};


export type MutationPinModelArgs = {
  name: Scalars['String']['input'];
  pinned: Scalars['Boolean']['input'];
};


export type MutationUnloadModelArgs = {
  name: Scalars['String']['input'];
};


export type MutationUploadImageArgs = {
  image: ImageInput;
};

/** Weight precision of a converted variant. */
export type Precision =
  | 'FP32'
  | 'INT8';

export type Query = {
  /** The limits this server enforces. */
  limits: Limits;
  /** A variant by name or alias (case-sensitive); null when there is none. */
  model?: Maybe<Model>;
  /** Every variant in the registry, installed or not, sorted by name. */
  models: Array<Model>;
};


export type QueryModelArgs = {
  name: Scalars['String']['input'];
};

/** A variant whose new version could not be taken; the old version stays. */
export type RescanFailure = {
  message: Scalars['String']['output'];
  name: Scalars['String']['output'];
};

/** What rescanRegistry changed, by variant name. */
export type RescanResult = {
  added: Array<Scalars['String']['output']>;
  failed: Array<RescanFailure>;
  removed: Array<Scalars['String']['output']>;
  unchanged: Array<Scalars['String']['output']>;
  /** Variants now serving their new variant.json or manifest. */
  updated: Array<Scalars['String']['output']>;
};

export type Subscription = {
  /** Answers one question about one image, sending the answer as it is generated. */
  answerStream: AnswerStreamEvent;
  /** Captions one image, sending the caption as it is generated. Greedy decoding sends every step; beam search sends the best hypothesis so far. */
  captionStream: CaptionStreamEvent;
};


export type SubscriptionAnswerStreamArgs = {
  input: AnswerInput;
};


export type SubscriptionCaptionStreamArgs = {
  input: CaptionInput;
};

/** Milliseconds spent on a result. preprocess, encode and decode are those of the batched model pass the item was part of (shared by its batch). */
export type Timings = {
  /** Token generation. */
  decodeMs: Scalars['Float']['output'];
  /** Vision encoder (and question encoder for VQA). */
  encodeMs: Scalars['Float']['output'];
  /** Decoding and resizing the images, tokenizing. */
  preprocessMs: Scalars['Float']['output'];
  /** Waiting for a batch and a free model. */
  queueMs: Scalars['Float']['output'];
  /** queue + preprocess + encode + decode: the time inside the engine. */
  totalMs: Scalars['Float']['output'];
};

/** An image kept by the server for a while, to be used by `imageId`. */
export type UploadedImage = {
  /** Size of the file. */
  bytes: Scalars['Int']['output'];
  /** When the server forgets the image unless it is used again (each use extends it). */
  expiresAt: Scalars['DateTimeISO']['output'];
  /** The format the file was recognised as (jpeg, png, webp, gif, tiff, avif, heif). */
  format: Scalars['String']['output'];
  /** sha256 of the file (hex): the same file always gets the same id. */
  id: Scalars['ID']['output'];
};

export type PlaygroundModelsQueryVariables = Exact<{ [key: string]: never; }>;


export type PlaygroundModelsQuery = { models: Array<{ name: string, aliases: Array<string>, task: ModelTask, description: string, state: ModelState, installed: boolean, isDefault: boolean, installCommand?: string | null, loadError?: { code: string, message: string } | null }> };

export type PlaygroundCaptionStreamSubscriptionVariables = Exact<{
  input: CaptionInput;
}>;


export type PlaygroundCaptionStreamSubscription = { captionStream: { text: string, delta: string, done: boolean, result?: { caption: string, model: string, batchSize: number, timings: { queueMs: number, preprocessMs: number, encodeMs: number, decodeMs: number, totalMs: number } } | null } };

export type PlaygroundAnswerStreamSubscriptionVariables = Exact<{
  input: AnswerInput;
}>;


export type PlaygroundAnswerStreamSubscription = { answerStream: { text: string, delta: string, done: boolean, result?: { answer: string, model: string, batchSize: number, timings: { queueMs: number, preprocessMs: number, encodeMs: number, decodeMs: number, totalMs: number } } | null } };

export type PlaygroundTimingsFragment = { queueMs: number, preprocessMs: number, encodeMs: number, decodeMs: number, totalMs: number };

export type PlaygroundUploadMutationVariables = Exact<{
  image: ImageInput;
}>;


export type PlaygroundUploadMutation = { uploadImage: { id: string, bytes: number, format: string, expiresAt: string } };

export const PlaygroundTimingsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"PlaygroundTimings"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Timings"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"queueMs"}},{"kind":"Field","name":{"kind":"Name","value":"preprocessMs"}},{"kind":"Field","name":{"kind":"Name","value":"encodeMs"}},{"kind":"Field","name":{"kind":"Name","value":"decodeMs"}},{"kind":"Field","name":{"kind":"Name","value":"totalMs"}}]}}]} as unknown as DocumentNode<PlaygroundTimingsFragment, unknown>;
export const PlaygroundModelsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"PlaygroundModels"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"aliases"}},{"kind":"Field","name":{"kind":"Name","value":"task"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"installed"}},{"kind":"Field","name":{"kind":"Name","value":"isDefault"}},{"kind":"Field","name":{"kind":"Name","value":"installCommand"}},{"kind":"Field","name":{"kind":"Name","value":"loadError"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<PlaygroundModelsQuery, PlaygroundModelsQueryVariables>;
export const PlaygroundCaptionStreamDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"PlaygroundCaptionStream"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CaptionInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"captionStream"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"text"}},{"kind":"Field","name":{"kind":"Name","value":"delta"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"result"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"caption"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"batchSize"}},{"kind":"Field","name":{"kind":"Name","value":"timings"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"PlaygroundTimings"}}]}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"PlaygroundTimings"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Timings"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"queueMs"}},{"kind":"Field","name":{"kind":"Name","value":"preprocessMs"}},{"kind":"Field","name":{"kind":"Name","value":"encodeMs"}},{"kind":"Field","name":{"kind":"Name","value":"decodeMs"}},{"kind":"Field","name":{"kind":"Name","value":"totalMs"}}]}}]} as unknown as DocumentNode<PlaygroundCaptionStreamSubscription, PlaygroundCaptionStreamSubscriptionVariables>;
export const PlaygroundAnswerStreamDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"PlaygroundAnswerStream"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"AnswerInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"answerStream"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"text"}},{"kind":"Field","name":{"kind":"Name","value":"delta"}},{"kind":"Field","name":{"kind":"Name","value":"done"}},{"kind":"Field","name":{"kind":"Name","value":"result"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"answer"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"batchSize"}},{"kind":"Field","name":{"kind":"Name","value":"timings"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"PlaygroundTimings"}}]}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"PlaygroundTimings"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Timings"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"queueMs"}},{"kind":"Field","name":{"kind":"Name","value":"preprocessMs"}},{"kind":"Field","name":{"kind":"Name","value":"encodeMs"}},{"kind":"Field","name":{"kind":"Name","value":"decodeMs"}},{"kind":"Field","name":{"kind":"Name","value":"totalMs"}}]}}]} as unknown as DocumentNode<PlaygroundAnswerStreamSubscription, PlaygroundAnswerStreamSubscriptionVariables>;
export const PlaygroundUploadDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"PlaygroundUpload"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"image"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ImageInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"uploadImage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"image"},"value":{"kind":"Variable","name":{"kind":"Name","value":"image"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"bytes"}},{"kind":"Field","name":{"kind":"Name","value":"format"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]}}]} as unknown as DocumentNode<PlaygroundUploadMutation, PlaygroundUploadMutationVariables>;
import { GraphQLSafeInt } from 'graphql-scalars';
import { Directive, Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { VariantInfo } from '../registry/types.ts';
import { UnreachableCaseError } from '../errors.ts';
import type { InstallStatus } from '../hub/install-jobs.ts';
import { ModelInstall, toModelInstall } from './model-install.type.ts';
import { ModelMemory } from './model-memory.type.ts';

export enum ModelTask {
  CAPTION = 'CAPTION',
  VQA = 'VQA',
}
registerEnumType(ModelTask, {
  name: 'ModelTask',
  description: 'What a variant does.',
  valuesConfig: { CAPTION: { description: 'Image captioning (the `caption` mutations).' }, VQA: { description: 'Visual question answering (the `answer` mutations).' } },
});

export enum ModelState {
  UNLOADED = 'UNLOADED',
  LOADING = 'LOADING',
  READY = 'READY',
  FAILED = 'FAILED',
}
registerEnumType(ModelState, {
  name: 'ModelState',
  description: 'Where a variant is in its lifecycle. Variants load lazily, on their first request.',
  valuesConfig: {
    UNLOADED: { description: 'Not loaded yet (or unloaded).' },
    LOADING: { description: 'The first request is loading it; concurrent requests wait for the same load.' },
    READY: { description: 'Loaded in its inference worker.' },
    FAILED: { description: 'The last load failed (see `loadError`); the next request tries again.' },
  },
});

export enum ModelPrecision {
  FP32 = 'FP32',
  INT8 = 'INT8',
}
registerEnumType(ModelPrecision, {
  name: 'ModelPrecision',
  description: "The number format of a variant's weights.",
  valuesConfig: {
    FP32: { description: 'float32 throughout, as the checkpoint.' },
    INT8: { description: 'MatMul weights in int8 with int8 activations at run time (about a quarter of the weight bytes); LayerNorm, softmax and embeddings stay float32.' },
  },
});

@ObjectType('ModelLoadError', { description: 'Why the last load of a variant failed.' })
export class ModelLoadError {
  @Field(() => String, { description: 'An error code, e.g. MODEL_LOAD_FAILED.' })
  code!: string;

  @Field(() => String)
  message!: string;
}

@ObjectType('BatchingSettings', { description: "How the engine batches a variant's concurrent requests." })
export class BatchingSettings {
  @Field(() => Int, { description: 'Most requests one batched model pass takes.' })
  maxBatchSize!: number;

  @Field(() => Float, { description: 'Longest a request waits for others to join its batch while the model is busy.' })
  maxQueueDelayMs!: number;

  @Field(() => Int, { description: 'Most requests queued or computing for the variant; beyond it requests fail with OVERLOADED.' })
  maxQueueSize!: number;
}

// A federation entity: other subgraphs of a supergraph refer to a variant by its canonical name (see subgraph-schema.ts).
// graphql's printSchema leaves the directive out, so schema.graphql (the public API) does not change.
@Directive('@key(fields: "name")')
@ObjectType('Model', { description: 'A model variant in the registry.' })
export class Model {
  @Field(() => String, { description: 'The canonical name (what results report in `model`).' })
  name!: string;

  @Field(() => [String], { description: 'Other names requests may use, e.g. the Hugging Face id.' })
  aliases!: string[];

  @Field(() => ModelTask)
  task!: ModelTask;

  @Field(() => String)
  description!: string;

  @Field(() => ModelState)
  state!: ModelState;

  @Field(() => Boolean, { description: 'Are the converted model files present?' })
  installed!: boolean;

  @Field(() => Boolean, { description: 'Is this the variant used when a request names none, for its task?' })
  isDefault!: boolean;

  @Field(() => GraphQLSafeInt, { nullable: true, description: 'Number of parameters (when installed).' })
  parameters!: number | null;

  @Field(() => ModelPrecision, { description: 'fp32, or int8 (`convert --precision int8`).' })
  precision!: ModelPrecision;

  @Field(() => GraphQLSafeInt, { nullable: true, description: 'Bytes on disk of the converted files (when installed).' })
  bytes!: number | null;

  @Field(() => ModelMemory, { nullable: true, description: 'What the memory budget counts for the variant when loaded: weights plus working memory (when installed).' })
  memory!: ModelMemory | null;

  @Field(() => String, { description: 'The Hugging Face id or checkpoint folder the variant is made from.' })
  source!: string;

  @Field(() => String, { nullable: true, description: 'The Hugging Face commit the installed files were converted from (pulled variants), else null.' })
  revision!: string | null;

  @Field(() => String, { nullable: true, description: 'The command that installs the variant, when it is not installed.' })
  installCommand!: string | null;

  @Field(() => ModelLoadError, { nullable: true, description: 'Why the last load failed (state FAILED).' })
  loadError!: ModelLoadError | null;

  @Field(() => BatchingSettings)
  batching!: BatchingSettings;

  @Field(() => Boolean, { description: 'Never evicted to make room in the memory budget (PIN_MODELS, or pinModel).' })
  pinned!: boolean;

  @Field(() => ModelInstall, { nullable: true, description: 'The last install from the API (installModel, AUTO_INSTALL) since the server started; null when none.' })
  install!: ModelInstall | null;
}

/** `redact` removes server folders from the load error's message (and the install's). */
export function toModel(info: VariantInfo, redact: (message: string) => string = (message) => message, install?: InstallStatus): Model {
  return {
    name: info.name,
    aliases: [...info.aliases],
    task: info.task === 'caption' ? ModelTask.CAPTION : ModelTask.VQA,
    description: info.description,
    state: toModelState(info.state),
    installed: info.installed,
    isDefault: info.isDefault,
    parameters: info.parameters,
    precision: info.precision === 'int8' ? ModelPrecision.INT8 : ModelPrecision.FP32,
    bytes: info.bytes,
    memory: info.memory && { ...info.memory },
    source: info.source,
    revision: info.revision,
    installCommand: info.installCommand,
    loadError: info.loadError ? { code: info.loadError.code, message: redact(info.loadError.message) } : null,
    batching: { maxBatchSize: info.batching.maxBatchSize, maxQueueDelayMs: info.batching.maxQueueDelayMs, maxQueueSize: info.batching.maxQueueSize },
    pinned: info.pinned,
    install: install ? toModelInstall(install, redact) : null,
  };
}

function toModelState(state: VariantInfo['state']): ModelState {
  switch (state) {
    case 'unloaded':
      return ModelState.UNLOADED;
    case 'loading':
      return ModelState.LOADING;
    case 'ready':
      return ModelState.READY;
    case 'failed':
      return ModelState.FAILED;
    default:
      throw new UnreachableCaseError(state);
  }
}

import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, ObjectType } from 'type-graphql';

@ObjectType('ModelMemory', {
  description:
    'What the memory budget (MODEL_MEMORY_BUDGET_BYTES) counts for a variant while it is loaded: its weights plus a bound on its working memory, computed from its settings. The variant never uses more than `workingBytes` beyond its weights, whatever the load: more requests wait instead.',
})
export class ModelMemory {
  @Field(() => GraphQLSafeInt, { description: 'Bytes of its weights: the converted files (ONNX graphs with their weights, tokenizer), held once in memory.' })
  weightBytes!: number;

  @Field(() => GraphQLSafeInt, {
    description: "Bound on its working memory in bytes: decoder rows (`batching.maxRows`) × each row's attention caches, the vision encoder's batch × its activations, the embedding cache, and a fixed overhead.",
  })
  workingBytes!: number;

  @Field(() => GraphQLSafeInt, { description: 'weightBytes + workingBytes: what it takes of the memory budget.' })
  totalBytes!: number;
}

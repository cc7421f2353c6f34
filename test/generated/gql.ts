/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation LoadModel($name: String!) {\n  loadModel(name: $name) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation UnloadModel($name: String!) {\n  unloadModel(name: $name) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation PinModel($name: String!, $pinned: Boolean!) {\n  pinModel(name: $name, pinned: $pinned) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation RescanRegistry {\n  rescanRegistry {\n    added\n    removed\n    updated\n    unchanged\n    failed {\n      name\n      message\n    }\n  }\n}": typeof types.LoadModelDocument,
    "mutation Answer($input: AnswerInput!) {\n  answer(input: $input) {\n    answer\n    model\n    batchSize\n    sequence\n    timings {\n      queueMs\n      preprocessMs\n      encodeMs\n      decodeMs\n      totalMs\n    }\n  }\n}\n\nmutation AnswerBatch($inputs: [AnswerInput!]!) {\n  answerBatch(inputs: $inputs) {\n    answer\n    model\n    batchSize\n    sequence\n  }\n}": typeof types.AnswerDocument,
    "mutation Caption($input: CaptionInput!) {\n  caption(input: $input) {\n    caption\n    model\n    batchSize\n    sequence\n    timings {\n      ...TimingFields\n    }\n  }\n}\n\nmutation CaptionBatch($inputs: [CaptionInput!]!) {\n  captionBatch(inputs: $inputs) {\n    caption\n    model\n    batchSize\n    sequence\n  }\n}\n\nfragment TimingFields on Timings {\n  queueMs\n  preprocessMs\n  encodeMs\n  decodeMs\n  totalMs\n}": typeof types.CaptionDocument,
    "query Models {\n  models {\n    ...ModelFields\n  }\n}\n\nquery Model($name: String!) {\n  model(name: $name) {\n    ...ModelFields\n  }\n}\n\nquery Limits {\n  limits {\n    maxBodyBytes\n    maxImageBytes\n    maxImagePixels\n    maxQuestionChars\n    maxPromptChars\n    maxBatchItems\n    maxQueryDepth\n    maxQueryFields\n    imageTtlSeconds\n    imageUrlEnabled\n  }\n}\n\nfragment ModelFields on Model {\n  name\n  aliases\n  task\n  description\n  state\n  installed\n  isDefault\n  parameters\n  precision\n  bytes\n  source\n  installCommand\n  loadError {\n    code\n    message\n  }\n  batching {\n    maxBatchSize\n    maxQueueDelayMs\n    maxQueueSize\n  }\n}": typeof types.ModelsDocument,
    "subscription CaptionStream($input: CaptionInput!) {\n  captionStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      caption\n      model\n      batchSize\n      sequence\n      timings {\n        ...TimingFields\n      }\n    }\n  }\n}\n\nsubscription AnswerStream($input: AnswerInput!) {\n  answerStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      answer\n      model\n      batchSize\n      sequence\n      timings {\n        ...TimingFields\n      }\n    }\n  }\n}": typeof types.CaptionStreamDocument,
    "mutation UploadImage($image: ImageInput!) {\n  uploadImage(image: $image) {\n    id\n    bytes\n    format\n    expiresAt\n  }\n}": typeof types.UploadImageDocument,
};
const documents: Documents = {
    "mutation LoadModel($name: String!) {\n  loadModel(name: $name) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation UnloadModel($name: String!) {\n  unloadModel(name: $name) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation PinModel($name: String!, $pinned: Boolean!) {\n  pinModel(name: $name, pinned: $pinned) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation RescanRegistry {\n  rescanRegistry {\n    added\n    removed\n    updated\n    unchanged\n    failed {\n      name\n      message\n    }\n  }\n}": types.LoadModelDocument,
    "mutation Answer($input: AnswerInput!) {\n  answer(input: $input) {\n    answer\n    model\n    batchSize\n    sequence\n    timings {\n      queueMs\n      preprocessMs\n      encodeMs\n      decodeMs\n      totalMs\n    }\n  }\n}\n\nmutation AnswerBatch($inputs: [AnswerInput!]!) {\n  answerBatch(inputs: $inputs) {\n    answer\n    model\n    batchSize\n    sequence\n  }\n}": types.AnswerDocument,
    "mutation Caption($input: CaptionInput!) {\n  caption(input: $input) {\n    caption\n    model\n    batchSize\n    sequence\n    timings {\n      ...TimingFields\n    }\n  }\n}\n\nmutation CaptionBatch($inputs: [CaptionInput!]!) {\n  captionBatch(inputs: $inputs) {\n    caption\n    model\n    batchSize\n    sequence\n  }\n}\n\nfragment TimingFields on Timings {\n  queueMs\n  preprocessMs\n  encodeMs\n  decodeMs\n  totalMs\n}": types.CaptionDocument,
    "query Models {\n  models {\n    ...ModelFields\n  }\n}\n\nquery Model($name: String!) {\n  model(name: $name) {\n    ...ModelFields\n  }\n}\n\nquery Limits {\n  limits {\n    maxBodyBytes\n    maxImageBytes\n    maxImagePixels\n    maxQuestionChars\n    maxPromptChars\n    maxBatchItems\n    maxQueryDepth\n    maxQueryFields\n    imageTtlSeconds\n    imageUrlEnabled\n  }\n}\n\nfragment ModelFields on Model {\n  name\n  aliases\n  task\n  description\n  state\n  installed\n  isDefault\n  parameters\n  precision\n  bytes\n  source\n  installCommand\n  loadError {\n    code\n    message\n  }\n  batching {\n    maxBatchSize\n    maxQueueDelayMs\n    maxQueueSize\n  }\n}": types.ModelsDocument,
    "subscription CaptionStream($input: CaptionInput!) {\n  captionStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      caption\n      model\n      batchSize\n      sequence\n      timings {\n        ...TimingFields\n      }\n    }\n  }\n}\n\nsubscription AnswerStream($input: AnswerInput!) {\n  answerStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      answer\n      model\n      batchSize\n      sequence\n      timings {\n        ...TimingFields\n      }\n    }\n  }\n}": types.CaptionStreamDocument,
    "mutation UploadImage($image: ImageInput!) {\n  uploadImage(image: $image) {\n    id\n    bytes\n    format\n    expiresAt\n  }\n}": types.UploadImageDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation LoadModel($name: String!) {\n  loadModel(name: $name) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation UnloadModel($name: String!) {\n  unloadModel(name: $name) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation PinModel($name: String!, $pinned: Boolean!) {\n  pinModel(name: $name, pinned: $pinned) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation RescanRegistry {\n  rescanRegistry {\n    added\n    removed\n    updated\n    unchanged\n    failed {\n      name\n      message\n    }\n  }\n}"): (typeof documents)["mutation LoadModel($name: String!) {\n  loadModel(name: $name) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation UnloadModel($name: String!) {\n  unloadModel(name: $name) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation PinModel($name: String!, $pinned: Boolean!) {\n  pinModel(name: $name, pinned: $pinned) {\n    name\n    state\n    pinned\n  }\n}\n\nmutation RescanRegistry {\n  rescanRegistry {\n    added\n    removed\n    updated\n    unchanged\n    failed {\n      name\n      message\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Answer($input: AnswerInput!) {\n  answer(input: $input) {\n    answer\n    model\n    batchSize\n    sequence\n    timings {\n      queueMs\n      preprocessMs\n      encodeMs\n      decodeMs\n      totalMs\n    }\n  }\n}\n\nmutation AnswerBatch($inputs: [AnswerInput!]!) {\n  answerBatch(inputs: $inputs) {\n    answer\n    model\n    batchSize\n    sequence\n  }\n}"): (typeof documents)["mutation Answer($input: AnswerInput!) {\n  answer(input: $input) {\n    answer\n    model\n    batchSize\n    sequence\n    timings {\n      queueMs\n      preprocessMs\n      encodeMs\n      decodeMs\n      totalMs\n    }\n  }\n}\n\nmutation AnswerBatch($inputs: [AnswerInput!]!) {\n  answerBatch(inputs: $inputs) {\n    answer\n    model\n    batchSize\n    sequence\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Caption($input: CaptionInput!) {\n  caption(input: $input) {\n    caption\n    model\n    batchSize\n    sequence\n    timings {\n      ...TimingFields\n    }\n  }\n}\n\nmutation CaptionBatch($inputs: [CaptionInput!]!) {\n  captionBatch(inputs: $inputs) {\n    caption\n    model\n    batchSize\n    sequence\n  }\n}\n\nfragment TimingFields on Timings {\n  queueMs\n  preprocessMs\n  encodeMs\n  decodeMs\n  totalMs\n}"): (typeof documents)["mutation Caption($input: CaptionInput!) {\n  caption(input: $input) {\n    caption\n    model\n    batchSize\n    sequence\n    timings {\n      ...TimingFields\n    }\n  }\n}\n\nmutation CaptionBatch($inputs: [CaptionInput!]!) {\n  captionBatch(inputs: $inputs) {\n    caption\n    model\n    batchSize\n    sequence\n  }\n}\n\nfragment TimingFields on Timings {\n  queueMs\n  preprocessMs\n  encodeMs\n  decodeMs\n  totalMs\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Models {\n  models {\n    ...ModelFields\n  }\n}\n\nquery Model($name: String!) {\n  model(name: $name) {\n    ...ModelFields\n  }\n}\n\nquery Limits {\n  limits {\n    maxBodyBytes\n    maxImageBytes\n    maxImagePixels\n    maxQuestionChars\n    maxPromptChars\n    maxBatchItems\n    maxQueryDepth\n    maxQueryFields\n    imageTtlSeconds\n    imageUrlEnabled\n  }\n}\n\nfragment ModelFields on Model {\n  name\n  aliases\n  task\n  description\n  state\n  installed\n  isDefault\n  parameters\n  precision\n  bytes\n  source\n  installCommand\n  loadError {\n    code\n    message\n  }\n  batching {\n    maxBatchSize\n    maxQueueDelayMs\n    maxQueueSize\n  }\n}"): (typeof documents)["query Models {\n  models {\n    ...ModelFields\n  }\n}\n\nquery Model($name: String!) {\n  model(name: $name) {\n    ...ModelFields\n  }\n}\n\nquery Limits {\n  limits {\n    maxBodyBytes\n    maxImageBytes\n    maxImagePixels\n    maxQuestionChars\n    maxPromptChars\n    maxBatchItems\n    maxQueryDepth\n    maxQueryFields\n    imageTtlSeconds\n    imageUrlEnabled\n  }\n}\n\nfragment ModelFields on Model {\n  name\n  aliases\n  task\n  description\n  state\n  installed\n  isDefault\n  parameters\n  precision\n  bytes\n  source\n  installCommand\n  loadError {\n    code\n    message\n  }\n  batching {\n    maxBatchSize\n    maxQueueDelayMs\n    maxQueueSize\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription CaptionStream($input: CaptionInput!) {\n  captionStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      caption\n      model\n      batchSize\n      sequence\n      timings {\n        ...TimingFields\n      }\n    }\n  }\n}\n\nsubscription AnswerStream($input: AnswerInput!) {\n  answerStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      answer\n      model\n      batchSize\n      sequence\n      timings {\n        ...TimingFields\n      }\n    }\n  }\n}"): (typeof documents)["subscription CaptionStream($input: CaptionInput!) {\n  captionStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      caption\n      model\n      batchSize\n      sequence\n      timings {\n        ...TimingFields\n      }\n    }\n  }\n}\n\nsubscription AnswerStream($input: AnswerInput!) {\n  answerStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      answer\n      model\n      batchSize\n      sequence\n      timings {\n        ...TimingFields\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UploadImage($image: ImageInput!) {\n  uploadImage(image: $image) {\n    id\n    bytes\n    format\n    expiresAt\n  }\n}"): (typeof documents)["mutation UploadImage($image: ImageInput!) {\n  uploadImage(image: $image) {\n    id\n    bytes\n    format\n    expiresAt\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;
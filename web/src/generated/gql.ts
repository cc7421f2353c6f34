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
    "query PlaygroundModels {\n  models {\n    name\n    aliases\n    task\n    description\n    state\n    installed\n    isDefault\n    installCommand\n    loadError {\n      code\n      message\n    }\n  }\n}": typeof types.PlaygroundModelsDocument,
    "subscription PlaygroundCaptionStream($input: CaptionInput!) {\n  captionStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      caption\n      model\n      batchSize\n      timings {\n        ...PlaygroundTimings\n      }\n    }\n  }\n}\n\nsubscription PlaygroundAnswerStream($input: AnswerInput!) {\n  answerStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      answer\n      model\n      batchSize\n      timings {\n        ...PlaygroundTimings\n      }\n    }\n  }\n}\n\nfragment PlaygroundTimings on Timings {\n  queueMs\n  preprocessMs\n  encodeMs\n  decodeMs\n  totalMs\n}": typeof types.PlaygroundCaptionStreamDocument,
    "mutation PlaygroundUpload($image: ImageInput!) {\n  uploadImage(image: $image) {\n    id\n    bytes\n    format\n    expiresAt\n  }\n}": typeof types.PlaygroundUploadDocument,
};
const documents: Documents = {
    "query PlaygroundModels {\n  models {\n    name\n    aliases\n    task\n    description\n    state\n    installed\n    isDefault\n    installCommand\n    loadError {\n      code\n      message\n    }\n  }\n}": types.PlaygroundModelsDocument,
    "subscription PlaygroundCaptionStream($input: CaptionInput!) {\n  captionStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      caption\n      model\n      batchSize\n      timings {\n        ...PlaygroundTimings\n      }\n    }\n  }\n}\n\nsubscription PlaygroundAnswerStream($input: AnswerInput!) {\n  answerStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      answer\n      model\n      batchSize\n      timings {\n        ...PlaygroundTimings\n      }\n    }\n  }\n}\n\nfragment PlaygroundTimings on Timings {\n  queueMs\n  preprocessMs\n  encodeMs\n  decodeMs\n  totalMs\n}": types.PlaygroundCaptionStreamDocument,
    "mutation PlaygroundUpload($image: ImageInput!) {\n  uploadImage(image: $image) {\n    id\n    bytes\n    format\n    expiresAt\n  }\n}": types.PlaygroundUploadDocument,
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
export function graphql(source: "query PlaygroundModels {\n  models {\n    name\n    aliases\n    task\n    description\n    state\n    installed\n    isDefault\n    installCommand\n    loadError {\n      code\n      message\n    }\n  }\n}"): (typeof documents)["query PlaygroundModels {\n  models {\n    name\n    aliases\n    task\n    description\n    state\n    installed\n    isDefault\n    installCommand\n    loadError {\n      code\n      message\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription PlaygroundCaptionStream($input: CaptionInput!) {\n  captionStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      caption\n      model\n      batchSize\n      timings {\n        ...PlaygroundTimings\n      }\n    }\n  }\n}\n\nsubscription PlaygroundAnswerStream($input: AnswerInput!) {\n  answerStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      answer\n      model\n      batchSize\n      timings {\n        ...PlaygroundTimings\n      }\n    }\n  }\n}\n\nfragment PlaygroundTimings on Timings {\n  queueMs\n  preprocessMs\n  encodeMs\n  decodeMs\n  totalMs\n}"): (typeof documents)["subscription PlaygroundCaptionStream($input: CaptionInput!) {\n  captionStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      caption\n      model\n      batchSize\n      timings {\n        ...PlaygroundTimings\n      }\n    }\n  }\n}\n\nsubscription PlaygroundAnswerStream($input: AnswerInput!) {\n  answerStream(input: $input) {\n    text\n    delta\n    done\n    result {\n      answer\n      model\n      batchSize\n      timings {\n        ...PlaygroundTimings\n      }\n    }\n  }\n}\n\nfragment PlaygroundTimings on Timings {\n  queueMs\n  preprocessMs\n  encodeMs\n  decodeMs\n  totalMs\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation PlaygroundUpload($image: ImageInput!) {\n  uploadImage(image: $image) {\n    id\n    bytes\n    format\n    expiresAt\n  }\n}"): (typeof documents)["mutation PlaygroundUpload($image: ImageInput!) {\n  uploadImage(image: $image) {\n    id\n    bytes\n    format\n    expiresAt\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;
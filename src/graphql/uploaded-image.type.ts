import { GraphQLDateTimeISO } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { StoredImage } from '../upload/image-store.ts';

@ObjectType('UploadedImage', { description: 'An image kept by the server for a while, to be used by `imageId`.' })
export class UploadedImage {
  @Field(() => ID, { description: 'sha256 of the file (hex): the same file always gets the same id.' })
  id!: string;

  @Field(() => Int, { description: 'Size of the file.' })
  bytes!: number;

  @Field(() => String, { description: 'The format the file was recognised as (jpeg, png, webp, gif, tiff, avif, heif).' })
  format!: string;

  @Field(() => GraphQLDateTimeISO, { description: 'When the server forgets the image unless it is used again (each use extends it).' })
  expiresAt!: Date;
}

export function toUploadedImage(stored: StoredImage, format: string): UploadedImage {
  return { id: stored.id, bytes: stored.bytes, format, expiresAt: new Date(stored.expiresAt) };
}

import GraphQLUpload from 'graphql-upload/GraphQLUpload.mjs';
import type { FileUpload } from 'graphql-upload/processRequest.mjs';
import { Field, ID, InputType } from 'type-graphql';

@InputType('ImageInput', {
  description: 'An image: set exactly one field. Accepted formats: JPEG, PNG, WebP, GIF (first frame), TIFF, AVIF/HEIF.',
})
export class ImageInput {
  @Field(() => String, { nullable: true, description: 'The file as base64 (standard or URL-safe), or a data: URL (data:image/png;base64,...).' })
  base64?: string | null;

  @Field(() => GraphQLUpload, {
    nullable: true,
    description:
      'A file sent with the GraphQL multipart request spec. Multipart requests must carry an `apollo-require-preflight` (or `x-apollo-operation-name`) header, else they are refused as possible CSRF.',
  })
  upload?: Promise<FileUpload> | null;

  @Field(() => ID, { nullable: true, description: 'The id `uploadImage` returned, to reuse an image without sending it again.' })
  imageId?: string | null;

  @Field(() => String, { nullable: true, description: 'An http(s) URL to fetch. Off unless the server allow-lists hosts (IMAGE_URL_ALLOWED_HOSTS).' })
  url?: string | null;
}

import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { GatewayContext } from './context.ts';
import { ErrorCode, ServiceError } from '../errors.ts';
import { describeUnacceptedBytes, sniffImageFormat } from '../image/sniff-format.ts';
import type { ImageLoader } from '../upload/image-source.ts';
import type { ImageStore } from '../upload/image-store.ts';
import { ImageInput } from './image.input.ts';
import { UploadedImage, toUploadedImage } from './uploaded-image.type.ts';

@Resolver()
export class UploadResolver {
  constructor(
    private readonly store: ImageStore,
    private readonly loadImage: ImageLoader,
  ) {}

  @Mutation(() => UploadedImage, {
    description:
      'Stores an image for a while (a bounded store keyed by content hash: in memory, or in Redis shared by every replica) and returns its id, so that several requests can use it by `imageId` without sending it again. The format is checked now; the image is decoded when it is used.',
  })
  async uploadImage(@Arg('image', () => ImageInput) image: ImageInput, @Ctx() context: GatewayContext): Promise<UploadedImage> {
    const tracker = context.record.begin('uploadImage');
    try {
      return await this.storeImage(image);
    } catch (error) {
      tracker.failed(error);
      throw error;
    } finally {
      tracker.end();
    }
  }

  private async storeImage(image: ImageInput): Promise<UploadedImage> {
    const bytes = await this.loadImage(image, 'image');
    if (bytes.length === 0) throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected image bytes but received an empty file');
    const format = sniffImageFormat(bytes);
    if (format === null) {
      throw new ServiceError(ErrorCode.UNSUPPORTED_IMAGE_FORMAT, `Expected a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image but received ${describeUnacceptedBytes(bytes)}`);
    }
    return toUploadedImage(await this.store.put(bytes), format);
  }
}

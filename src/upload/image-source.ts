import type { Readable } from 'node:stream';
import { ErrorCode, ServiceError } from '../errors.ts';
import { decodeBase64Image } from './base64.ts';
import { fetchImage, type ImageFetchOptions } from './fetch-image.ts';
import type { ImageStore } from './image-store.ts';
import { imageTooLarge, readStreamLimited } from './read-stream.ts';

/** A file of a multipart request (graphql-upload's FileUpload, reduced to what is read here). */
export interface UploadedFile {
  filename?: string;
  createReadStream(): Readable;
}

/** Where a request's image comes from: exactly one field must be set (null counts as unset). */
export interface ImageSource {
  base64?: string | null;
  upload?: Promise<UploadedFile> | UploadedFile | null;
  imageId?: string | null;
  url?: string | null;
}

export const IMAGE_SOURCE_FIELDS = ['base64', 'upload', 'imageId', 'url'] as const;

export interface ImageLoaderOptions {
  store: ImageStore;
  maxBytes: number;
  fetch: Omit<ImageFetchOptions, 'maxBytes'>;
}

/** Turns an ImageSource into bytes the caller owns (and may transfer to a worker). */
export type ImageLoader = (source: ImageSource, field?: string) => Promise<Uint8Array>;

export function createImageLoader(options: ImageLoaderOptions): ImageLoader {
  return async function loadImage(source: ImageSource, field = 'image'): Promise<Uint8Array> {
    const given = IMAGE_SOURCE_FIELDS.filter((key) => source[key] !== undefined && source[key] !== null);
    if (given.length !== 1) {
      const received = given.length === 0 ? 'none' : `${given.length} (${given.join(', ')})`;
      throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected exactly one of ${IMAGE_SOURCE_FIELDS.join(', ')} in ${field} but received ${received}`, {
        details: { field, given },
      });
    }
    switch (given[0]) {
      case 'base64':
        return decodeBase64Image(source.base64 as string, options.maxBytes, `${field}.base64`);
      case 'upload': {
        let file: UploadedFile;
        try {
          file = await (source.upload as Promise<UploadedFile> | UploadedFile);
        } catch (cause) {
          if ((cause as { status?: unknown }).status === 413) {
            throw imageTooLarge(options.maxBytes);
          }
          throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Could not read the file of ${field}.upload: ${(cause as Error).message}`, { cause, details: { field: `${field}.upload` } });
        }
        return readStreamLimited(file.createReadStream(), options.maxBytes, `the file of ${field}.upload`);
      }
      case 'imageId':
        return options.store.get(source.imageId as string);
      case 'url':
        return fetchImage(source.url as string, { ...options.fetch, maxBytes: options.maxBytes });
    }
  };
}

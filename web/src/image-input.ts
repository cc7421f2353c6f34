import type { Client } from '@urql/core';
import { MULTIPART_HEADERS } from './client.ts';
import { errorsOf, type ShownError } from './errors-view.ts';
import { PlaygroundUploadDocument, type PlaygroundUploadMutation } from './generated/graphql.ts';

export type UploadedImage = PlaygroundUploadMutation['uploadImage'];

export interface ImageInputElements {
  /** The drop target (a label for the file input, so that it is focusable and opens the picker). */
  dropZone: HTMLElement;
  fileInput: HTMLInputElement;
  preview: HTMLImageElement;
}

export interface ImageInputEvents {
  uploading(file: File): void;
  uploaded(image: UploadedImage, file: File): void;
  failed(errors: ShownError[]): void;
}

/**
 * The image the user drops, pastes or picks: previewed at once (read in the page, no request) and sent once with
 * `uploadImage` as a multipart request; captions and questions then send only its id.
 */
export function attachImageInput(client: Client, elements: ImageInputElements, events: ImageInputEvents): void {
  const { dropZone, fileInput, preview } = elements;

  const accept = async (file: File) => {
    // A data: URL, not a blob: one: the server's CSP allows images from 'self' and data: only.
    preview.src = await dataUrlOf(file);
    preview.alt = `Preview of ${file.name || 'the pasted image'}`;
    preview.hidden = false;
    events.uploading(file);
    const result = await client.mutation(PlaygroundUploadDocument, { image: { upload: file } }, { fetchOptions: { headers: { ...MULTIPART_HEADERS } } }).toPromise();
    if (result.error) events.failed(errorsOf(result.error));
    else if (result.data) events.uploaded(result.data.uploadImage, file);
  };

  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file) void accept(file);
  });
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault();
    dropZone.classList.add('dragging');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('dragging');
    const file = firstImage(event.dataTransfer?.files);
    if (file) void accept(file);
  });
  // A paste anywhere on the page, except into a text field (where the user pastes text).
  document.addEventListener('paste', (event) => {
    if (event.target instanceof HTMLInputElement && event.target.type !== 'file') return;
    if (event.target instanceof HTMLTextAreaElement) return;
    const file = firstImage(event.clipboardData?.files);
    if (!file) return;
    event.preventDefault();
    void accept(file);
  });
}

function dataUrlOf(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('could not read the image'));
    reader.readAsDataURL(file);
  });
}

function firstImage(files: FileList | undefined | null): File | undefined {
  return Array.from(files ?? []).find((file) => file.type.startsWith('image/') || file.type === '');
}

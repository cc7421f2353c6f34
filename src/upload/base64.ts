import { ErrorCode, ServiceError } from '../errors.ts';

const DATA_URL = /^data:([^,]*?),/i;
// Standard and URL-safe alphabets; padding optional. Whitespace (MIME line breaks) is removed first.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Bytes of an image sent as text: plain base64 (standard or URL-safe, line breaks allowed) or a `data:` URL with
 * `;base64`. The size is checked before decoding. Throws BAD_USER_INPUT for malformed text and IMAGE_TOO_LARGE over
 * `maxBytes`. The media type of a data URL is ignored: the bytes decide the format.
 */
export function decodeBase64Image(text: string, maxBytes: number, field = 'image.base64'): Uint8Array {
  let payload = text;
  const dataUrl = DATA_URL.exec(text.slice(0, 256));
  if (dataUrl) {
    if (!/;base64$/i.test(dataUrl[1])) {
      throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected a base64 data URL (data:<type>;base64,...) for ${field} but received a data URL without ;base64`, {
        details: { field },
      });
    }
    payload = text.slice(dataUrl[0].length);
  } else if (/^data:/i.test(text)) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected a data URL of the form data:<type>;base64,<data> for ${field}`, { details: { field } });
  }
  payload = payload.replace(/\s+/g, '');
  if (payload.length === 0) throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected image bytes for ${field} but received an empty string`, { details: { field } });
  if (!BASE64.test(payload) || payload.length % 4 === 1) {
    throw new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected base64 (or a data: URL) for ${field} but the text is not valid base64`, { details: { field } });
  }
  const padding = payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0;
  const size = Math.floor((payload.length * 3) / 4) - padding;
  if (size > maxBytes) {
    throw new ServiceError(ErrorCode.IMAGE_TOO_LARGE, `Expected an image of at most ${maxBytes} bytes but received ${size} bytes`, {
      details: { bytes: size, maxBytes },
    });
  }
  const buffer = Buffer.from(payload, /[-_]/.test(payload) ? 'base64url' : 'base64');
  // A copy that owns its ArrayBuffer (Buffer.from may use the shared pool), so that it can be transferred to a worker.
  return new Uint8Array(buffer);
}

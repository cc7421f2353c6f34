import type { Request, RequestHandler, Response } from 'express';
import { ErrorCode, ServiceError } from '../errors.ts';
import { HTTP_STATUS, isClientFacing } from '../gateway/error-codes.ts';
import type { InferenceRequests } from '../gateway/requests.ts';
import { clientMessage } from '../gateway/redact.ts';
import { sendRestError } from './error-body.ts';
import { recordOf } from './request-log.ts';

/**
 * `POST /api/v1/inference/blip`, the seed's REST API, kept so that its clients work unchanged:
 * `{"model"?, "image": "<base64 or data: URL>", "question"?}` → `{"caption": "..."}` without a question,
 * `{"answer": "..."}` with one. Errors: `{"error": {"code", "message"}}` with the code's HTTP status.
 * An optional `"prompt"` (captioning) is accepted too.
 */
export function createRestHandler(requests: InferenceRequests, onUnexpected: (error: unknown) => void, redact: (message: string) => string): RequestHandler {
  return async function inferBlip(req: Request, res: Response) {
    // The error's code is recorded by sendRestError, as a request-level code of the 'rest' surface.
    const tracker = recordOf(res)?.begin('rest');
    try {
      const body: unknown = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new ServiceError(ErrorCode.BAD_USER_INPUT, 'Expected a JSON object body: {"model"?, "image", "question"?}');
      }
      const fields = body as Record<string, unknown>;
      const image = fields.image;
      if (typeof image !== 'string') throw invalidField('image', 'a base64 string', image);
      const model = optionalString(fields, 'model');
      const question = optionalString(fields, 'question');
      const signal = abortOnClose(res);
      if (question !== undefined) {
        const served = await requests.answer({ model, image: { base64: image }, question, signal });
        tracker?.served(served);
        res.json({ answer: served.text });
      } else {
        const prompt = optionalString(fields, 'prompt');
        const served = await requests.caption({ model, image: { base64: image }, prompt, signal });
        tracker?.served(served);
        res.json({ caption: served.text });
      }
    } catch (error) {
      if (error instanceof ServiceError && isClientFacing(error.code)) {
        sendRestError(res, HTTP_STATUS[error.code] ?? 500, error.code, clientMessage(error, redact));
      } else {
        onUnexpected(error);
        sendRestError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      }
    } finally {
      tracker?.end();
    }
  };
}

/** A signal that fires when the client goes away before the response is complete. */
export function abortOnClose(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new ServiceError(ErrorCode.CANCELLED, 'The client closed the connection'));
  });
  return controller.signal;
}

function optionalString(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidField(name, 'a string', value);
  return value;
}

function invalidField(name: string, expected: string, received: unknown): ServiceError {
  const what = received === undefined ? 'nothing' : received === null ? 'null' : Array.isArray(received) ? 'an array' : `a ${typeof received}`;
  return new ServiceError(ErrorCode.BAD_USER_INPUT, `Expected ${expected} for ${name} but received ${what}`, { details: { field: name } });
}

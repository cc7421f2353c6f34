import { pino } from 'pino';
import { Writable } from 'node:stream';

export type LogLine = Record<string, any>;

/** A pino logger at info level whose JSON lines a test can read (`lines()` parses what was written so far). */
export function capturingLogger(): { logger: pino.Logger; lines: () => LogLine[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    logger: pino({ level: 'info' }, stream),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as LogLine),
  };
}

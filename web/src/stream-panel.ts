import type { CombinedError } from '@urql/core';
import { element } from './dom.ts';
import { errorsOf, showErrors, type ShownError } from './errors-view.ts';
import type { PlaygroundTimingsFragment } from './generated/graphql.ts';

/** What the panel needs of a caption or answer stream event. */
export interface PanelEvent {
  text: string;
  done: boolean;
  result?: { model: string; batchSize: number; timings: PlaygroundTimingsFragment } | null;
}

/** What a started stream reports to the panel. */
export interface StreamHandlers {
  event(event: PanelEvent): void;
  error(error: CombinedError): void;
}

export interface StreamPanelElements {
  start: HTMLButtonElement;
  cancel: HTMLButtonElement;
  /** The streamed text (aria-live, so screen readers hear it). */
  output: HTMLElement;
  status: HTMLElement;
  meta: HTMLElement;
  errors: HTMLElement;
}

export interface StreamPanel {
  /** Starts a stream unless one runs; `begin` subscribes and returns the unsubscribe function. */
  run(begin: (handlers: StreamHandlers) => () => void): void;
  /** Shows errors that happen before a stream starts (e.g. no image yet). */
  fail(errors: ShownError[]): void;
}

/**
 * One streamed operation on the page (the caption, or the answer): the text grows as events arrive, Cancel
 * unsubscribes, and the final event's model, batch size and timings are shown with the times the browser saw (first
 * text, final text). `onEnd` runs when a stream ends in any way.
 */
export function createStreamPanel(elements: StreamPanelElements, onEnd: () => void = () => {}): StreamPanel {
  const { start, cancel, output, status, meta, errors } = elements;
  let stop: (() => void) | undefined;
  cancel.addEventListener('click', () => {
    if (!stop) return;
    stop();
    finish('Cancelled.');
  });

  const finish = (message: string) => {
    stop = undefined;
    start.disabled = false;
    cancel.disabled = true;
    status.textContent = message;
    output.setAttribute('aria-busy', 'false');
    onEnd();
  };

  return {
    fail(shown) {
      showErrors(errors, shown);
    },
    run(begin) {
      if (stop) return;
      const started = performance.now();
      let firstTextMs: number | undefined;
      let updates = 0;
      output.textContent = '';
      output.setAttribute('aria-busy', 'true');
      meta.replaceChildren();
      showErrors(errors, []);
      status.textContent = 'Waiting for the first tokens…';
      start.disabled = true;
      cancel.disabled = false;
      let ended = false;
      const unsubscribe = begin({
        event(event) {
          if (ended) return;
          updates += 1;
          if (firstTextMs === undefined && event.text !== '') firstTextMs = performance.now() - started;
          output.textContent = event.text;
          if (!event.done) {
            status.textContent = `Generating… (${updates} update${updates === 1 ? '' : 's'})`;
            return;
          }
          ended = true;
          const finalMs = performance.now() - started;
          if (event.result) showResult(meta, event.result, { firstTextMs: firstTextMs ?? finalMs, finalMs, updates });
          finish(`Done in ${formatMs(finalMs)}.`);
        },
        error(error) {
          if (ended) return;
          ended = true;
          showErrors(errors, errorsOf(error));
          finish('Failed.');
        },
      });
      // A stream that already ended (a result delivered synchronously) must not leave the panel looking busy.
      if (ended) {
        unsubscribe();
        return;
      }
      stop = () => {
        ended = true;
        unsubscribe();
      };
    },
  };
}

function showResult(meta: HTMLElement, result: NonNullable<PanelEvent['result']>, seen: { firstTextMs: number; finalMs: number; updates: number }): void {
  const { timings } = result;
  const rows: Array<[string, string]> = [
    ['Model', result.model],
    ['Batch size', String(result.batchSize)],
    ['Server timings', `queue ${formatMs(timings.queueMs)} · preprocess ${formatMs(timings.preprocessMs)} · encode ${formatMs(timings.encodeMs)} · decode ${formatMs(timings.decodeMs)} · total ${formatMs(timings.totalMs)}`],
    ['In this browser', `first text ${formatMs(seen.firstTextMs)} · final ${formatMs(seen.finalMs)} · ${seen.updates} update${seen.updates === 1 ? '' : 's'}`],
  ];
  meta.replaceChildren(...rows.flatMap(([term, value]) => [element('dt', term), element('dd', value)]));
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

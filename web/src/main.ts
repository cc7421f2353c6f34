import './style.css';
import { createPlaygroundClient } from './client.ts';
import { byId } from './dom.ts';
import { errorsOf, showErrors } from './errors-view.ts';
import { PlaygroundAnswerStreamDocument, PlaygroundCaptionStreamDocument, PlaygroundModelsDocument } from './generated/graphql.ts';
import { attachImageInput, type UploadedImage } from './image-input.ts';
import { fillModelSelect, renderModels } from './models-view.ts';
import { readOptions } from './options-form.ts';
import { createStreamPanel, type StreamPanel } from './stream-panel.ts';

/**
 * The playground at `/`: lists the registry, takes one image, streams captions and answers about it. Everything goes
 * through urql with the typed documents generated from web/src/operations/*.graphql.
 */
const client = createPlaygroundClient();

const modelsView = byId('models', HTMLDivElement);
const modelErrors = byId('models-errors', HTMLDivElement);
const captionModel = byId('caption-model', HTMLSelectElement);
const answerModel = byId('answer-model', HTMLSelectElement);
const optionsFieldset = byId('options', HTMLFieldSetElement);
const imageStatus = byId('image-status', HTMLParagraphElement);
const imageErrors = byId('image-errors', HTMLDivElement);

let image: UploadedImage | undefined;

async function loadModels(): Promise<void> {
  const result = await client.query(PlaygroundModelsDocument, {}).toPromise();
  if (result.error) {
    modelsView.textContent = '';
    showErrors(modelErrors, errorsOf(result.error));
    return;
  }
  const models = result.data?.models ?? [];
  renderModels(modelsView, models);
  fillModelSelect(captionModel, models, 'CAPTION');
  fillModelSelect(answerModel, models, 'VQA');
}

attachImageInput(
  client,
  { dropZone: byId('drop-zone', HTMLLabelElement), fileInput: byId('image-file', HTMLInputElement), preview: byId('preview', HTMLImageElement) },
  {
    uploading(file) {
      image = undefined;
      showErrors(imageErrors, []);
      imageStatus.textContent = `Uploading ${file.name || 'the pasted image'} (${formatBytes(file.size)})…`;
    },
    uploaded(uploaded, file) {
      image = uploaded;
      imageStatus.textContent = `${file.name || 'Pasted image'}: ${uploaded.format}, ${formatBytes(uploaded.bytes)}, uploaded once as ${uploaded.id.slice(0, 12)}…`;
    },
    failed(errors) {
      imageStatus.textContent = 'The upload failed.';
      showErrors(imageErrors, errors);
    },
  },
);

const captionPanel = panel('caption');
const answerPanel = panel('answer');

byId('caption-form', HTMLFormElement).addEventListener('submit', (event) => {
  event.preventDefault();
  if (!requireImage(captionPanel)) return;
  const prompt = byId('prompt', HTMLInputElement).value.trim();
  const input = { image: { imageId: image!.id }, model: captionModel.value || null, prompt: prompt || null, options: readOptions(optionsFieldset) };
  captionPanel.run((handlers) => {
    const { unsubscribe } = client.subscription(PlaygroundCaptionStreamDocument, { input }).subscribe((result) => {
      if (result.error) handlers.error(result.error);
      else if (result.data) handlers.event(result.data.captionStream);
    });
    return unsubscribe;
  });
});

byId('answer-form', HTMLFormElement).addEventListener('submit', (event) => {
  event.preventDefault();
  if (!requireImage(answerPanel)) return;
  const question = byId('question', HTMLInputElement).value;
  const input = { image: { imageId: image!.id }, model: answerModel.value || null, question, options: readOptions(optionsFieldset) };
  answerPanel.run((handlers) => {
    const { unsubscribe } = client.subscription(PlaygroundAnswerStreamDocument, { input }).subscribe((result) => {
      if (result.error) handlers.error(result.error);
      else if (result.data) handlers.event(result.data.answerStream);
    });
    return unsubscribe;
  });
});

function panel(name: 'caption' | 'answer'): StreamPanel {
  // A finished request may have loaded its model: list the states again (one short query).
  return createStreamPanel(
    {
      start: byId(`${name}-start`, HTMLButtonElement),
      cancel: byId(`${name}-cancel`, HTMLButtonElement),
      output: byId(`${name}-text`, HTMLOutputElement),
      status: byId(`${name}-status`, HTMLParagraphElement),
      meta: byId(`${name}-meta`, HTMLDListElement),
      errors: byId(`${name}-errors`, HTMLDivElement),
    },
    () => void loadModels(),
  );
}

function requireImage(target: StreamPanel): boolean {
  if (image) return true;
  target.fail([{ code: 'NO_IMAGE', message: 'Choose, drop or paste an image first (and wait for its upload).' }]);
  return false;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

void loadModels();

import type { PlaygroundModelsQuery } from './generated/graphql.ts';
import { element } from './dom.ts';

export type ModelInfo = PlaygroundModelsQuery['models'][number];

const TASK_TITLES: Record<ModelInfo['task'], string> = { CAPTION: 'Captioning', VQA: 'Visual question answering' };

/**
 * The registry as visible text, grouped by task: each variant with its state and whether it is installed; a variant
 * that is not installed shows the command that installs it (run on the server).
 */
export function renderModels(target: HTMLElement, models: readonly ModelInfo[]): void {
  const groups = (Object.keys(TASK_TITLES) as Array<ModelInfo['task']>).map((task) => {
    const group = element('section', undefined, { class: 'model-group', 'aria-label': TASK_TITLES[task] });
    group.append(element('h3', TASK_TITLES[task]));
    const list = element('ul', undefined, { class: 'model-list' });
    for (const model of models.filter((candidate) => candidate.task === task)) list.append(modelItem(model));
    group.append(list);
    return group;
  });
  target.replaceChildren(...groups);
}

function modelItem(model: ModelInfo): HTMLLIElement {
  const item = element('li', undefined, { class: 'model', 'data-model': model.name });
  const head = element('div', undefined, { class: 'model-head' });
  head.append(element('strong', model.name, { class: 'model-name' }));
  if (model.isDefault) head.append(element('span', 'default', { class: 'badge' }));
  head.append(
    element('span', model.installed ? 'installed' : 'not installed', { class: `badge ${model.installed ? 'ok' : 'warn'}` }),
    element('span', model.state.toLowerCase(), { class: `badge state-${model.state.toLowerCase()}` }),
  );
  item.append(head, element('p', model.description, { class: 'model-description' }));
  if (!model.installed && model.installCommand) {
    const install = element('p', 'Install: ', { class: 'install' });
    install.append(element('code', model.installCommand));
    item.append(install);
  }
  if (model.loadError) item.append(element('p', `${model.loadError.code}: ${model.loadError.message}`, { class: 'error' }));
  return item;
}

/**
 * Fills a model picker with the installed variants of one task, the default first selected. Variants that are not
 * installed are listed but disabled, so the user sees them without being able to start a request that must fail.
 */
export function fillModelSelect(select: HTMLSelectElement, models: readonly ModelInfo[], task: ModelInfo['task']): void {
  const previous = select.value;
  const options = models
    .filter((model) => model.task === task)
    .map((model) => {
      const option = element('option', model.installed ? model.name : `${model.name} (not installed)`, { value: model.name });
      option.disabled = !model.installed;
      option.selected = previous ? model.name === previous : model.isDefault;
      return option;
    });
  select.replaceChildren(...options);
}

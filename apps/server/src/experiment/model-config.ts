import { checkModel, cutByNames, getModelSpec, MODEL_ZOO, validateCut, ZOO_MODELS, type Cut, type ModelInput, type ModelSpec } from '@splitfleet/splitcore';
import { ConfigError, show } from './config-errors.ts';
import type { Config } from './config.ts';

/** What each data set feeds a model: zoo models adapt their stem and their last layer to it. */
export const DATASET_INPUT: Readonly<Record<Config['data']['name'], ModelInput>> = {
  'fashion-mnist': { inputShape: [28, 28, 1], classes: 10 },
  cifar10: { inputShape: [32, 32, 3], classes: 10 },
};

export interface ResolvedModel {
  readonly spec: ModelSpec;
  readonly cut: Cut;
}

/**
 * The run's model and cut from `model.*` and the data set: a zoo model built for the data's shape,
 * or the config's own layers. Every problem is a ConfigError naming the option, the layer and the
 * shapes that do not fit.
 */
export function resolveModel(cfg: Pick<Config, 'model' | 'data'>): ResolvedModel {
  const input = DATASET_INPUT[cfg.data.name];
  const m = cfg.model;
  let spec: ModelSpec & { cuts?: Readonly<Record<string, Cut>> };
  if (m.layers === null) {
    if (!MODEL_ZOO[m.name]) throw new ConfigError(`model.name: ${show(m.name)} is not allowed; must be one of ${ZOO_MODELS.join(', ')}, or give model.layers`);
    spec = getModelSpec(m.name, input);
    guard('model.name', show(m.name), () => checkModel(spec));
  } else {
    spec = { name: m.name, inputShape: input.inputShape, classes: input.classes, layers: m.layers, defaultCut: { headEnd: 1, tailStart: m.layers.length - 1 } };
    guard('model.layers', `(${m.layers.length} layers on ${cfg.data.name} [${input.inputShape}])`, () => checkModel(spec));
  }
  const cut = guard('model.cut', show(m.cut), () => cutOf(spec, m.cut));
  guard('model.cut', show(m.cut ?? cut), () => validateCut(spec, cut));
  return { spec: { ...spec, defaultCut: cut }, cut };
}

function cutOf(spec: ModelSpec & { cuts?: Readonly<Record<string, Cut>> }, c: Config['model']['cut']): Cut {
  if (c === null) return spec.defaultCut;
  if (typeof c === 'string') {
    const named = spec.cuts?.[c];
    if (!named) throw new Error(`${spec.name} has ${spec.cuts ? `the cuts ${Object.keys(spec.cuts).join(', ')}` : 'no named cuts'}; or give {head, tail} layer names or {headEnd, tailStart}`);
    return named;
  }
  return 'head' in c ? cutByNames(spec, c.head, c.tail) : c;
}

function guard<T>(option: string, value: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new ConfigError(`${option}: ${value} is not allowed; ${(e as Error).message}`);
  }
}

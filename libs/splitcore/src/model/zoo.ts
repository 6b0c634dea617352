import type { ModelSpec, NamedLayer } from './spec.ts';

const conv = (name: string, filters: number): NamedLayer => ({
  name,
  spec: { kind: 'conv2d', filters, kernel: 3, stride: 1, padding: 'same', activation: 'relu' },
});
const pool = (name: string): NamedLayer => ({ name, spec: { kind: 'maxpool', size: 2 } });
const dense = (name: string, units: number, activation: 'relu' | 'linear'): NamedLayer => ({
  name,
  spec: { kind: 'dense', units, activation },
});

/**
 * The small CNN for 28×28×1 (Fashion-MNIST). Cut points after every layer: conv1, pool1, conv2,
 * pool2, fc1. Default: head = conv1+pool1 (smashed data 14×14×32), tail = fc2 (a dense tail, the
 * usual U-shaped set-up).
 */
export const cnnSmall: ModelSpec = {
  name: 'cnn-small',
  inputShape: [28, 28, 1],
  classes: 10,
  layers: [conv('conv1', 32), pool('pool1'), conv('conv2', 64), pool('pool2'), dense('fc1', 128, 'relu'), dense('fc2', 10, 'linear')],
  defaultCut: { headEnd: 2, tailStart: 5 },
};

/** A deeper VGG-style network for 32×32×3 inputs (CIFAR-10). */
export const vggMini: ModelSpec = {
  name: 'vgg-mini',
  inputShape: [32, 32, 3],
  classes: 10,
  layers: [
    conv('conv1', 32), conv('conv2', 32), pool('pool1'),
    conv('conv3', 64), conv('conv4', 64), pool('pool2'),
    conv('conv5', 128), pool('pool3'),
    dense('fc1', 256, 'relu'), dense('fc2', 10, 'linear'),
  ],
  defaultCut: { headEnd: 3, tailStart: 8 },
};

export const MODEL_ZOO: Readonly<Record<string, ModelSpec>> = {
  'cnn-small': cnnSmall,
  'vgg-mini': vggMini,
};

export function getModelSpec(name: string): ModelSpec {
  const spec = MODEL_ZOO[name];
  if (!spec) throw new Error(`unknown model "${name}"; available: ${Object.keys(MODEL_ZOO).join(', ')}`);
  return spec;
}

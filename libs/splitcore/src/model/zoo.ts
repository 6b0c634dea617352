import type { Cut, LayerSpec, ModelSpec, NamedLayer } from './spec.ts';

/** What a zoo model adapts to: the data's per-sample shape (channels last) and class count. */
export interface ModelInput {
  readonly inputShape: readonly number[];
  readonly classes: number;
}

export interface ZooEntry {
  /** The input the model was designed for (used when the data does not say). */
  readonly designedFor: ModelInput;
  /** Named cut points (e.g. ResNet-18's split indices); `defaultCut` names one of them. */
  build(input: ModelInput): ModelSpec & { readonly cuts: Readonly<Record<string, Cut>> };
  readonly describe: string;
}

const L = (name: string, spec: LayerSpec): NamedLayer => ({ name, spec });
const conv = (name: string, filters: number): NamedLayer => L(name, { kind: 'conv2d', filters, kernel: 3, stride: 1, padding: 'same', activation: 'relu' });
/** A ResNet stem convolution: 3×3, pad 1, no bias (a batch norm follows). */
const stemConv = (name: string, filters: number): NamedLayer => L(name, { kind: 'conv2d', filters, kernel: 3, stride: 1, padding: 1, activation: 'linear', bias: false });
const pool = (name: string): NamedLayer => L(name, { kind: 'maxpool', size: 2 });
const dense = (name: string, units: number, activation: 'relu' | 'linear'): NamedLayer => L(name, { kind: 'dense', units, activation });
const FMNIST: ModelInput = { inputShape: [28, 28, 1], classes: 10 };
const CIFAR: ModelInput = { inputShape: [32, 32, 3], classes: 10 };

/** Cut names → cuts, with the middle always ending right before `tailStart`. */
function cutsAfter(layers: readonly NamedLayer[], names: Record<string, string>, tailStart: number): Record<string, Cut> {
  return Object.fromEntries(Object.entries(names).map(([cut, after]) => [cut, { headEnd: layers.findIndex((l) => l.name === after) + 1, tailStart }]));
}

/** A model with one cut, named `default`. */
function oneCut(name: string, { inputShape, classes }: ModelInput, layers: NamedLayer[], cut: Cut): ModelSpec & { readonly cuts: Readonly<Record<string, Cut>> } {
  return { name, inputShape, classes, layers, defaultCut: cut, cuts: { default: cut } };
}

/**
 * The small CNN for 28×28×1 (Fashion-MNIST). Cut points after every layer: conv1, pool1, conv2,
 * pool2, fc1. Default: head = conv1+pool1 (smashed data 14×14×32), tail = fc2 (a dense tail, the
 * usual U-shaped set-up).
 */
const cnnSmallEntry: ZooEntry = {
  designedFor: FMNIST,
  describe: 'plain CNN: conv32-pool-conv64-pool-fc128-fc (28×28×1)',
  build: (input) =>
    oneCut('cnn-small', input, [conv('conv1', 32), pool('pool1'), conv('conv2', 64), pool('pool2'), dense('fc1', 128, 'relu'), dense('fc2', input.classes, 'linear')], { headEnd: 2, tailStart: 5 }),
};

/** The same CNN with batch norms (conv without bias → BN → ReLU) and dropout before the last layer. */
const cnnBnEntry: ZooEntry = {
  designedFor: FMNIST,
  describe: 'CNN with batch norm: conv32-bn-pool-conv64-bn-pool-fc128-dropout-fc (28×28×1)',
  build: (input) =>
    oneCut('cnn-bn', input, [
      L('conv1', { kind: 'conv2d', filters: 32, kernel: 3, stride: 1, padding: 'same', activation: 'linear', bias: false }),
      L('bn1', { kind: 'batchnorm', activation: 'relu' }), pool('pool1'),
      L('conv2', { kind: 'conv2d', filters: 64, kernel: 3, stride: 1, padding: 'same', activation: 'linear', bias: false }),
      L('bn2', { kind: 'batchnorm', activation: 'relu' }), pool('pool2'),
      dense('fc1', 128, 'relu'), L('dropout', { kind: 'dropout', rate: 0.25 }), dense('fc2', input.classes, 'linear'),
    ], { headEnd: 3, tailStart: 7 }),
};

/** A deeper VGG-style network for 32×32×3 inputs (CIFAR-10). */
const vggMiniEntry: ZooEntry = {
  designedFor: CIFAR,
  describe: 'VGG-style: 2×conv32-pool-2×conv64-pool-conv128-pool-fc256-fc (32×32×3)',
  build: (input) =>
    oneCut('vgg-mini', input, [
      conv('conv1', 32), conv('conv2', 32), pool('pool1'),
      conv('conv3', 64), conv('conv4', 64), pool('pool2'),
      conv('conv5', 128), pool('pool3'),
      dense('fc1', 256, 'relu'), dense('fc2', input.classes, 'linear'),
    ], { headEnd: 3, tailStart: 8 }),
};

/** Stages of basic blocks: stage s has `blocks` blocks of `widths[s]` channels, the first strided by 2 after stage 0. */
function stages(widths: readonly number[], blocks: number): NamedLayer[] {
  return widths.flatMap((w, s) =>
    Array.from({ length: blocks }, (_, b) => L(`layer${s + 1}.${b}`, { kind: 'residual', filters: w, stride: s > 0 && b === 0 ? 2 : 1 })),
  );
}

/**
 * The CIFAR ResNet-18 of the SPADV authors' code (github.com/fmy266/SplitADV, split_model.py):
 * stem conv3×3 64 + BN, four stages of two basic blocks (64/128/256/512), global average pooling,
 * linear. Their split keeps the stem as Sequential(conv1, bn1), so there is no ReLU after the stem
 * here either. Cuts `split-1`…`split-4` are their split indices: after the stem and after stages 1–3;
 * the server's middle always ends at the pooled feature and the tail is the final linear layer.
 */
const resnet18Entry: ZooEntry = {
  designedFor: CIFAR,
  describe: 'CIFAR ResNet-18 of the SPADV authors (64/128/256/512, cuts split-1…split-4)',
  build: ({ inputShape, classes }) => {
    const layers = [stemConv('conv1', 64), L('bn1', { kind: 'batchnorm' }), ...stages([64, 128, 256, 512], 2), L('pool', { kind: 'gap' }), dense('fc', classes, 'linear')];
    const tail = layers.length - 1;
    const cuts = cutsAfter(layers, { 'split-1': 'bn1', 'split-2': 'layer1.1', 'split-3': 'layer2.1', 'split-4': 'layer3.1' }, tail);
    return { name: 'resnet-18', inputShape, classes, layers, defaultCut: cuts['split-1']!, cuts };
  },
};

/** He et al.'s CIFAR ResNets (6n + 2 layers, 16/32/64 channels): stem conv + BN + ReLU, three stages of n blocks. */
function heResNet(name: string, n: number): ZooEntry {
  return {
    designedFor: CIFAR,
    describe: `He et al. CIFAR ResNet-${6 * n + 2} (16/32/64 channels, ${n} block${n > 1 ? 's' : ''} per stage; cuts stem, stage1, stage2)`,
    build: ({ inputShape, classes }) => {
      const layers = [stemConv('conv1', 16), L('bn1', { kind: 'batchnorm', activation: 'relu' }), ...stages([16, 32, 64], n), L('pool', { kind: 'gap' }), dense('fc', classes, 'linear')];
      const tail = layers.length - 1;
      const cuts = cutsAfter(layers, { stem: 'bn1', stage1: `layer1.${n - 1}`, stage2: `layer2.${n - 1}` }, tail);
      return { name, inputShape, classes, layers, defaultCut: cuts['stem']!, cuts };
    },
  };
}

export const MODEL_ZOO: Readonly<Record<string, ZooEntry>> = {
  'cnn-small': cnnSmallEntry,
  'cnn-bn': cnnBnEntry,
  'vgg-mini': vggMiniEntry,
  'resnet-8': heResNet('resnet-8', 1),
  'resnet-20': heResNet('resnet-20', 3),
  'resnet-18': resnet18Entry,
};

export const ZOO_MODELS = Object.keys(MODEL_ZOO) as readonly string[];

/** A zoo model for `input` (default: the input it was designed for). */
export function getModelSpec(name: string, input?: ModelInput): ModelSpec & { readonly cuts: Readonly<Record<string, Cut>> } {
  const entry = MODEL_ZOO[name];
  if (!entry) throw new Error(`unknown model "${name}"; available: ${ZOO_MODELS.join(', ')}`);
  return entry.build(input ?? entry.designedFor);
}

/** The plain CNN at its designed input (tests, benchmarks). */
export const cnnSmall: ModelSpec = getModelSpec('cnn-small');
export const vggMini: ModelSpec = getModelSpec('vgg-mini');

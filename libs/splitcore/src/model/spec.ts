/** Layer and model descriptions: plain data, so they can travel in configs and messages. */

export type Activation = 'relu' | 'linear';
/** 'same'/'valid' as in TensorFlow; a number pads that many zeros on every side (PyTorch's padding=p). */
export type Padding = 'same' | 'valid' | number;

export interface Conv2dLayer {
  readonly kind: 'conv2d';
  readonly filters: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: Padding;
  readonly activation: Activation;
  /** Default true; ResNets drop it before a batch norm, which would cancel it. */
  readonly bias?: boolean;
}
export interface MaxPoolLayer {
  readonly kind: 'maxpool';
  readonly size: number;
}
/** Non-overlapping average pooling (window = stride = size). */
export interface AvgPoolLayer {
  readonly kind: 'avgpool';
  readonly size: number;
}
/** Global average pooling: [h, w, c] → [c]. */
export interface GlobalAvgPoolLayer {
  readonly kind: 'gap';
}
export interface FlattenLayer {
  readonly kind: 'flatten';
}
/** Inverted dropout: zeroes a `rate` share in training (mask seeded per step), the identity in evaluation. */
export interface DropoutLayer {
  readonly kind: 'dropout';
  readonly rate: number;
}
/**
 * Per-channel batch normalisation (PyTorch's semantics): training normalises with the batch's
 * statistics and moves the running ones by `momentum` (running = (1 − m)·running + m·batch, the
 * variance unbiased); evaluation normalises with the running statistics.
 */
export interface BatchNormLayer {
  readonly kind: 'batchnorm';
  /** Default 0.1. */
  readonly momentum?: number;
  /** Default 1e-5. */
  readonly epsilon?: number;
  /** Applied after the affine transform; default linear. */
  readonly activation?: Activation;
}
/**
 * The ResNet basic block (He et al. 2016): conv3×3(stride)-BN-ReLU-conv3×3-BN, plus the input
 * (identity) or, when the stride or the channel count changes, a 1×1-conv(stride)-BN projection;
 * then ReLU. Convolutions have no bias and pad 1, as in PyTorch's torchvision/CIFAR ResNets.
 */
export interface ResidualLayer {
  readonly kind: 'residual';
  readonly filters: number;
  readonly stride: number;
  /** Batch-norm momentum of its three norms; default 0.1. */
  readonly momentum?: number;
}
/** A dense layer flattens a rank > 2 input first. */
export interface DenseLayer {
  readonly kind: 'dense';
  readonly units: number;
  readonly activation: Activation;
}
export type LayerSpec =
  | Conv2dLayer | MaxPoolLayer | AvgPoolLayer | GlobalAvgPoolLayer | FlattenLayer | DropoutLayer | BatchNormLayer | ResidualLayer | DenseLayer;

export interface NamedLayer {
  /** Also the name of the cut point right after this layer. */
  readonly name: string;
  readonly spec: LayerSpec;
}

export interface ModelSpec {
  readonly name: string;
  /** Per-sample input shape, channels last. */
  readonly inputShape: readonly number[];
  readonly classes: number;
  readonly layers: readonly NamedLayer[];
  /** Default cut: head = layers[0, headEnd), middle = [headEnd, tailStart), tail = [tailStart, end). */
  readonly defaultCut: Cut;
}

export interface Cut {
  readonly headEnd: number;
  readonly tailStart: number;
}

export interface ParamShape {
  readonly name: string;
  readonly shape: readonly number[];
  /** Fan-in/fan-out used by Glorot initialisation; 0 fan means zeros (or `init`). */
  readonly fanIn: number;
  readonly fanOut: number;
  /** Overrides the fan rule: batch-norm scales and running variances start at one. */
  readonly init?: 'ones';
}

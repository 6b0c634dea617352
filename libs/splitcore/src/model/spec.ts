import { sizeOf } from './shape.ts';
/** Layer and model descriptions: plain data, so they can travel in configs and messages. */

export type Activation = 'relu' | 'linear';

export interface Conv2dLayer {
  readonly kind: 'conv2d';
  readonly filters: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: 'same' | 'valid';
  readonly activation: Activation;
}
export interface MaxPoolLayer {
  readonly kind: 'maxpool';
  readonly size: number;
}
/** A dense layer flattens a rank > 2 input first. */
export interface DenseLayer {
  readonly kind: 'dense';
  readonly units: number;
  readonly activation: Activation;
}
export type LayerSpec = Conv2dLayer | MaxPoolLayer | DenseLayer;

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
  /** Fan-in/fan-out used by Glorot initialisation; 0 fan means a bias (initialised to zero). */
  readonly fanIn: number;
  readonly fanOut: number;
}

/** Per-sample output shape of a layer, or an error naming the layer. */
export function layerOutputShape(layer: NamedLayer, input: readonly number[]): number[] {
  const s = layer.spec;
  switch (s.kind) {
    case 'conv2d': {
      if (input.length !== 3) throw new Error(`layer ${layer.name}: conv2d needs an [h, w, c] input, got [${input}]`);
      const [h, w] = input as [number, number, number];
      const out = (n: number) =>
        s.padding === 'same' ? Math.ceil(n / s.stride) : Math.floor((n - s.kernel) / s.stride) + 1;
      if (out(h) <= 0 || out(w) <= 0) throw new Error(`layer ${layer.name}: input [${input}] is smaller than the kernel`);
      return [out(h), out(w), s.filters];
    }
    case 'maxpool': {
      if (input.length !== 3) throw new Error(`layer ${layer.name}: maxpool needs an [h, w, c] input, got [${input}]`);
      const [h, w, c] = input as [number, number, number];
      return [Math.floor(h / s.size), Math.floor(w / s.size), c];
    }
    case 'dense':
      return [s.units];
  }
}

export function layerParamShapes(layer: NamedLayer, input: readonly number[]): ParamShape[] {
  const s = layer.spec;
  switch (s.kind) {
    case 'conv2d': {
      const cin = input[2] as number;
      return [
        { name: `${layer.name}/kernel`, shape: [s.kernel, s.kernel, cin, s.filters], fanIn: s.kernel * s.kernel * cin, fanOut: s.kernel * s.kernel * s.filters },
        { name: `${layer.name}/bias`, shape: [s.filters], fanIn: 0, fanOut: 0 },
      ];
    }
    case 'maxpool':
      return [];
    case 'dense': {
      const fin = sizeOf(input);
      return [
        { name: `${layer.name}/kernel`, shape: [fin, s.units], fanIn: fin, fanOut: s.units },
        { name: `${layer.name}/bias`, shape: [s.units], fanIn: 0, fanOut: 0 },
      ];
    }
  }
}

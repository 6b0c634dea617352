import {
  forwardFlopsPerSample, getModelSpec, layerBufferShapes, layerOutputShape, layerParamShapes, sizeOf, ZOO_MODELS, type Cut, type ModelSpec,
} from '@splitfleet/splitcore';
import { DATASET_INPUT } from '../experiment/model-config.ts';

const count = (n: number) => n.toLocaleString('en');

/** The zoo: one line per model and data set (input shape, parameters, forward MFLOP, cuts). */
export function zooTable(): string[] {
  const lines = ['model       data           parameters  MFLOP fwd  cuts (smashed data shape; * = default)'];
  for (const name of ZOO_MODELS)
    for (const [data, input] of Object.entries(DATASET_INPUT)) {
      const m = getModelSpec(name, input);
      const params = partParams(m, 0, m.layers.length);
      const cuts = Object.entries(m.cuts).map(([cut, c]) => `${cut}${sameCut(c, m.defaultCut) ? '*' : ''}: ${shapeAfter(m, c.headEnd - 1).join('×')}`);
      lines.push(`${name.padEnd(11)} ${data.padEnd(14)} ${count(params).padStart(10)}  ${(forwardFlopsPerSample(m) / 1e6).toFixed(1).padStart(9)}  ${cuts.join('; ')}`);
    }
  return lines;
}

/** One model, layer by layer: output shape, parameters and buffers, and where the cut puts each layer. */
export function modelSummary(m: ModelSpec, cut: Cut): string[] {
  const lines = [`${m.name}: input [${m.inputShape}], ${m.classes} classes, cut {headEnd: ${cut.headEnd}, tailStart: ${cut.tailStart}}`, 'part    layer            kind        output          params  buffers'];
  let shape: readonly number[] = m.inputShape;
  m.layers.forEach((l, i) => {
    const params = layerParamShapes(l, shape).reduce((a, p) => a + sizeOf(p.shape), 0);
    const buffers = layerBufferShapes(l, shape).reduce((a, p) => a + sizeOf(p.shape), 0);
    shape = layerOutputShape(l, shape);
    const part = i < cut.headEnd ? 'head' : i < cut.tailStart ? 'middle' : 'tail';
    lines.push(`${part.padEnd(7)} ${l.name.padEnd(16)} ${l.spec.kind.padEnd(11)} ${`[${shape}]`.padEnd(15)} ${count(params).padStart(7)}  ${count(buffers).padStart(7)}`);
  });
  const total = partParams(m, 0, m.layers.length);
  lines.push(`smashed data [${shapeAfter(m, cut.headEnd - 1)}] per sample; parameters: head ${count(partParams(m, 0, cut.headEnd))}, middle ${count(partParams(m, cut.headEnd, cut.tailStart))}, tail ${count(partParams(m, cut.tailStart, m.layers.length))} (total ${count(total)}); ${(forwardFlopsPerSample(m) / 1e6).toFixed(1)} MFLOP forward per sample`);
  return lines;
}

const sameCut = (a: Cut, b: Cut) => a.headEnd === b.headEnd && a.tailStart === b.tailStart;

function shapeAfter(m: ModelSpec, index: number): readonly number[] {
  let shape: readonly number[] = m.inputShape;
  for (let i = 0; i <= index; i++) shape = layerOutputShape(m.layers[i]!, shape);
  return shape;
}

function partParams(m: ModelSpec, from: number, to: number): number {
  let shape: readonly number[] = m.inputShape;
  let n = 0;
  m.layers.forEach((l, i) => {
    if (i >= from && i < to) n += layerParamShapes(l, shape).reduce((a, p) => a + sizeOf(p.shape), 0);
    shape = layerOutputShape(l, shape);
  });
  return n;
}

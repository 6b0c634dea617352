import {
  forwardFlopsPerSample, getModelSpec, layerOutputShape, layerSlotsOf, sizeOf, splitSpecs, ZOO_MODELS, type Cut, type ModelSpec, type ParamShape, type PartSpec,
} from '@splitfleet/splitcore';
import { DATASET_INPUT } from '../experiment/model-config.ts';

const count = (n: number) => n.toLocaleString('en');
const sizeOfAll = (ps: readonly ParamShape[]) => ps.reduce((a, p) => a + sizeOf(p.shape), 0);
const parts = (m: ModelSpec, cut: Cut): PartSpec[] => {
  const s = splitSpecs(m, cut);
  return [s.head, s.middle, s.tail];
};

/** The zoo: one line per model and data set (input shape, parameters, forward MFLOP, cuts). */
export function zooTable(): string[] {
  const lines = ['model       data           parameters  MFLOP fwd  cuts (smashed data shape; * = default)'];
  for (const name of ZOO_MODELS)
    for (const [data, input] of Object.entries(DATASET_INPUT)) {
      const m = getModelSpec(name, input);
      const params = parts(m, m.defaultCut).reduce((a, p) => a + sizeOfAll(p.params), 0);
      const cuts = Object.entries(m.cuts).map(([cut, c]) => `${cut}${sameCut(c, m.defaultCut) ? '*' : ''}: ${splitSpecs(m, c).head.outputShape.join('×')}`);
      lines.push(`${name.padEnd(11)} ${data.padEnd(14)} ${count(params).padStart(10)}  ${(forwardFlopsPerSample(m) / 1e6).toFixed(1).padStart(9)}  ${cuts.join('; ')}`);
    }
  return lines;
}

/** One model, layer by layer: output shape, parameters and buffers, and where the cut puts each layer. */
export function modelSummary(m: ModelSpec, cut: Cut): string[] {
  const lines = [`${m.name}: input [${m.inputShape}], ${m.classes} classes, cut {headEnd: ${cut.headEnd}, tailStart: ${cut.tailStart}}`, 'part    layer            kind        output          params  buffers'];
  const [head, middle, tail] = parts(m, cut) as [PartSpec, PartSpec, PartSpec];
  for (const p of [head, middle, tail]) {
    let shape = p.inputShape;
    for (const { layer: l, params: pr, buffers: br } of layerSlotsOf(p)) {
      const params = sizeOfAll(p.params.slice(...pr));
      const buffers = sizeOfAll(p.buffers.slice(...br));
      shape = layerOutputShape(l, shape);
      lines.push(`${p.part.padEnd(7)} ${l.name.padEnd(16)} ${l.spec.kind.padEnd(11)} ${`[${shape}]`.padEnd(15)} ${count(params).padStart(7)}  ${count(buffers).padStart(7)}`);
    }
  }
  const [h, md, t] = [head, middle, tail].map((p) => sizeOfAll(p.params)) as [number, number, number];
  lines.push(`smashed data [${head.outputShape}] per sample; parameters: head ${count(h)}, middle ${count(md)}, tail ${count(t)} (total ${count(h + md + t)}); ${(forwardFlopsPerSample(m) / 1e6).toFixed(1)} MFLOP forward per sample`);
  return lines;
}

const sameCut = (a: Cut, b: Cut) => a.headEnd === b.headEnd && a.tailStart === b.tailStart;

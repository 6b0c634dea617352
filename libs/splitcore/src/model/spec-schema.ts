import { z } from 'zod';
import type { Cut, LayerSpec, ModelSpec, NamedLayer } from './spec.ts';
import { partSpec } from './split.ts';

/**
 * Layer specs as data (configs' `model.layers`, and the model a server sends its clients), with
 * the defaults a config may leave out. One schema per kind, mirroring spec.ts.
 */
const pos = z.number().int().positive();
const activation = z.enum(['relu', 'linear']).default('linear');
const padding = z.union([z.enum(['same', 'valid']), z.number().int().min(0)]).default('same');
const momentum = z.number().gt(0).max(1).optional();

export const LayerSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('conv2d'), filters: pos, kernel: pos.default(3), stride: pos.default(1), padding, activation, bias: z.boolean().optional() }).strict(),
  z.object({ kind: z.literal('maxpool'), size: pos.default(2) }).strict(),
  z.object({ kind: z.literal('avgpool'), size: pos.default(2) }).strict(),
  z.object({ kind: z.literal('gap') }).strict(),
  z.object({ kind: z.literal('flatten') }).strict(),
  z.object({ kind: z.literal('dropout'), rate: z.number().min(0).lt(1) }).strict(),
  z.object({ kind: z.literal('batchnorm'), momentum, epsilon: z.number().positive().optional(), activation: z.enum(['relu', 'linear']).optional() }).strict(),
  z.object({ kind: z.literal('residual'), filters: pos, stride: pos.default(1), momentum }).strict(),
  z.object({ kind: z.literal('dense'), units: pos, activation }).strict(),
]);

/** A config's layer: its name (also the cut point after it) next to its spec's fields. */
export const ConfigLayerSchema = z
  .object({ name: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only') })
  .passthrough()
  .transform((l, ctx): NamedLayer => {
    const { name, ...rest } = l as { name: string } & Record<string, unknown>;
    const r = LayerSpecSchema.safeParse(rest);
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue({ ...issue, message: `layer ${name}: ${issue.message}` } as z.core.$ZodRawIssue);
      return z.NEVER;
    }
    return { name, spec: r.data as LayerSpec };
  });

export const CutSchema = z.object({ headEnd: pos, tailStart: pos }).strict();

/** A whole model as plain data: what the server sends every client in its assignment. */
export const ModelSpecSchema = z.object({
  name: z.string().min(1),
  inputShape: z.array(pos).min(1).readonly(),
  classes: z.number().int().min(2),
  layers: z.array(z.object({ name: z.string().min(1), spec: LayerSpecSchema })).min(3).readonly(),
  defaultCut: CutSchema,
});

/**
 * Checks that a model's layers fit its input, end with `classes` outputs and have unique names;
 * throws one line naming the layer and the shapes that do not fit.
 */
export function checkModel(m: ModelSpec): void {
  const seen = new Set<string>();
  for (const l of m.layers) {
    if (seen.has(l.name)) throw new Error(`layer ${l.name}: the name is used twice (layer names are cut-point names)`);
    seen.add(l.name);
  }
  const whole = partSpec('head', m.layers, m.inputShape);
  const out = whole.outputShape;
  if (out.length !== 1 || out[0] !== m.classes)
    throw new Error(`layer ${m.layers.at(-1)!.name}: the model must end with ${m.classes} outputs (one per class), its output shape is [${out}]`);
}

/** Cut by layer names: the head ends with layer `head`, the tail starts with layer `tail`. */
export function cutByNames(m: ModelSpec, head: string, tail: string): Cut {
  const idx = (n: string, what: string) => {
    const i = m.layers.findIndex((l) => l.name === n);
    if (i < 0) throw new Error(`${what} "${n}" is not a layer of ${m.name}; layers: ${m.layers.map((l) => l.name).join(', ')}`);
    return i;
  };
  return { headEnd: idx(head, 'head') + 1, tailStart: idx(tail, 'tail') };
}

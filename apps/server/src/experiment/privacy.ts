import * as tf from '@tensorflow/tfjs-core';
import type { AttackTarget } from '@splitfleet/attack';
import {
  ClientDefences, defenceRng, distanceCorrelation, frameToTensor, gather, headForward, PartModel, stateShapes,
  type DefenceSpec, type ImageSet, type SplitModel,
} from '@splitfleet/splitcore';

/**
 * The privacy proxy of the smashed data (issue #21): the distance correlation between test inputs
 * and the smashed data each trained client model *sends* for them (smashed-data defences applied),
 * averaged over the run's client models. Evaluation only — it reads the client heads, as every
 * evaluation of the trained fleet does; the attack never sees it. Where clients hold their own
 * models (local, sequential), the first MAX_TARGETS of them are measured: a 1,000-client fleet
 * would otherwise spend minutes on a proxy.
 */
const MAX_TARGETS = 16;
/**
 * The head runs over the proxy's images this many at a time: 256 at once took the server's wasm
 * heap (which never shrinks) up by ≈ 73 MB at the end of a run — the convolutions' activations.
 */
const HEAD_ROWS = 32;

/** The head's output for x, computed HEAD_ROWS rows at a time (the same values as one call: rows are independent in evaluation). */
function headInRows(head: PartModel, x: tf.Tensor): tf.Tensor {
  const n = x.shape[0]!;
  if (n <= HEAD_ROWS) return headForward(head, x);
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < n; i += HEAD_ROWS) {
    const rows = tf.slice(x, i, Math.min(HEAD_ROWS, n - i));
    parts.push(headForward(head, rows));
    rows.dispose();
  }
  const z = tf.concat(parts, 0);
  tf.dispose(parts);
  return z;
}
export interface SmashedPrivacy {
  /** Mean over the client models measured (at most 16) of dCor(x, z sent) on the same test images. */
  readonly distanceCorrelation: number;
  readonly perTarget: { label: string; distanceCorrelation: number }[];
  /** Test images used (the test split's first ones). */
  readonly samples: number;
}

export async function smashedPrivacy(
  split: SplitModel, test: ImageSet, targets: readonly AttackTarget[], defences: readonly DefenceSpec[], seed: number, samples = 256,
): Promise<SmashedPrivacy | null> {
  const n = Math.min(samples, test.count);
  if (!targets.length || n < 2) return null;
  const { x } = gather(test, Array.from({ length: n }, (_, i) => i));
  const xt = tf.tensor(x, [n, ...split.head.inputShape], 'float32');
  const nh = stateShapes(split.head).length;
  const guard = new ClientDefences(defences, split.model.classes);
  const perTarget: { label: string; distanceCorrelation: number }[] = [];
  try {
    for (const t of targets.slice(0, MAX_TARGETS)) {
      const head = new PartModel(split.head, t.headTail.slice(0, nh));
      const z = headInRows(head, xt);
      head.dispose();
      // what the server receives: the frame the client would send, decoded as the server decodes it
      const frame = await guard.smashedFrame(z, defenceRng(seed, t.clientIds[0] ?? 0, -1, 0, 'eval'));
      const sent = frameToTensor(frame, { sampleShape: split.head.outputShape, maxBatch: n, batch: n });
      const d = distanceCorrelation(xt, sent);
      perTarget.push({ label: t.label, distanceCorrelation: (await d.data())[0]! });
      tf.dispose([z, sent, d]);
    }
  } finally {
    xt.dispose();
  }
  return { distanceCorrelation: perTarget.reduce((s, p) => s + p.distanceCorrelation, 0) / perTarget.length, perTarget, samples: n };
}

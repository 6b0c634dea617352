/**
 * Maximum-weight assignment on a square matrix (Hungarian algorithm, O(n³)). Returns for each row
 * the column assigned to it. Used to compare label spaces that agree only up to a relabelling
 * (inferred labels, shadow-model classes) with the real ones.
 */
export function maxAssignment(weights: readonly (readonly number[])[]): number[] {
  const n = weights.length;
  if (weights.some((r) => r.length !== n)) throw new Error('maxAssignment needs a square matrix');
  const max = Math.max(0, ...weights.flat());
  const cost = weights.map((r) => r.map((w) => max - w));
  const u = new Array<number>(n + 1).fill(0);
  const v = new Array<number>(n + 1).fill(0);
  const p = new Array<number>(n + 1).fill(0);
  const way = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Array<number>(n + 1).fill(Infinity);
    const used = new Array<boolean>(n + 1).fill(false);
    do {
      used[j0] = true;
      const i0 = p[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = cost[i0 - 1]![j - 1]! - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]!]! += delta;
          v[j]! -= delta;
        } else minv[j]! -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0);
  }
  const rowToCol = new Array<number>(n).fill(-1);
  for (let j = 1; j <= n; j++) if (p[j]! > 0) rowToCol[p[j]! - 1] = j - 1;
  return rowToCol;
}

/** Accuracy of predicted labels against true ones after the best relabelling of the predictions. */
export function matchedAccuracy(pred: ArrayLike<number>, truth: ArrayLike<number>, classes: number): { accuracy: number; mapping: number[] } {
  const conf = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < pred.length; i++) conf[pred[i]!]![truth[i]!]!++;
  const mapping = maxAssignment(conf);
  let correct = 0;
  mapping.forEach((t, p) => (correct += conf[p]![t]!));
  return { accuracy: pred.length ? correct / pred.length : 0, mapping };
}

/**
 * The attacker's class map for targeted attacks from a few labelled images: real class → shadow
 * class, the assignment that agrees with the most (label, shadow prediction) pairs. Classes none of
 * the labelled images hold get the shadow classes left over (the assignment is a permutation).
 */
export function labelledClassMap(shadowPred: Int32Array, labels: Int32Array, classes: number): number[] {
  if (shadowPred.length !== labels.length) throw new Error(`labelledClassMap: ${shadowPred.length} predictions for ${labels.length} labels`);
  const counts = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  labels.forEach((y, i) => counts[y]![shadowPred[i]!]!++);
  return maxAssignment(counts);
}

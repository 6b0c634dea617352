/**
 * Label inference that knows the clients' defences (issue #21's adaptive attacks; our design).
 * Randomised response trains the client on ỹ, so the gradients reveal ỹ, not y. The attacker
 *   knows the mechanism T: P(ỹ | y) = p_keep if ỹ = y, else o = (1 − p_keep)/(C − 1). A tail fitted
 *   to the observed (features, ỹ) pairs estimates P(ỹ | x) = Tᵀ P(y | x); inverting the symmetric T
 *   gives P(y = c | x) = (P(ỹ = c | x) − o)/(p_keep − o), and each sample's label is the argmax of
 *   the posterior P(ỹ | c) · P(c | x).
 */

/**
 * Randomised response inverted per sample: `logProbs` (n × C) is t̂'s log P(ỹ | x), `observed` the
 * labels the gradients reveal (ỹ, in the attacker's label space), `keep` = p_keep; returns the
 * argmax over c of P(ỹ_i | c) · P(c | x_i), with P(c | x) = T⁻¹ P(ỹ | x) floored at a tiny value.
 */
export function randomisedResponsePosterior(logProbs: Float32Array, observed: Int32Array, classes: number, keep: number): Int32Array {
  const other = (1 - keep) / (classes - 1);
  const floor = 1e-6;
  return Int32Array.from(observed, (y, i) => {
    let best = 0;
    let top = -Infinity;
    for (let c = 0; c < classes; c++) {
      const clean = Math.max(floor, (Math.exp(logProbs[i * classes + c]!) - other) / (keep - other));
      const v = Math.log(clean) + Math.log(c === y ? keep : other);
      if (v > top) [top, best] = [v, c];
    }
    return best;
  });
}

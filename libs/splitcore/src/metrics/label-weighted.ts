/**
 * A per-class rate re-weighted to a label distribution: Σ_c share_c · hits_c / total_c over the
 * classes the evaluation set holds, renormalised over their share (a class the shared test split
 * lacks has no rate to weigh; counting it as 0 would punish every client that holds it). This is
 * how well a model — or an attack — does on one client's population, measured on a shared test
 * set: the server's labelWeightedAccuracy and the attack's per-client metrics both use it.
 * Null when no class with share > 0 is present.
 */
export function labelWeighted(share: readonly number[], total: readonly number[], hits: readonly number[]): number | null {
  let acc = 0;
  let mass = 0;
  total.forEach((t, c) => {
    const w = share[c] ?? 0;
    if (!t || !w) return;
    acc += (w * (hits[c] ?? 0)) / t;
    mass += w;
  });
  return mass > 0 ? acc / mass : null;
}

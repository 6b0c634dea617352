import type { AttackReport, MetricSummary } from '@splitfleet/attack';

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(100 * v).toFixed(1)}%`);

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

/** The attack summary printed at the end of `run` and `attack`: aggregate vs baselines, then per client. */
export function formatAttackTable(a: AttackReport, maxClients = 20): string {
  const p = a.primary;
  const targeted = p.targeted;
  const row = (name: string, m: MetricSummary | null): string[] | null =>
    m && [name, pct(m.cleanAccuracy), pct(m.robustAccuracy), pct(m.asr), ...(targeted ? [pct(m.targetedSuccess)] : []), m.linfMax.toFixed(3), m.l2Mean.toFixed(2), m.seconds.toFixed(1)];
  const rows = [
    row(`SPADV ${p.method.replace('spadv-', '')} (${p.objective})`, a.aggregate),
    row(a.baselines.whiteBox?.method === 'whitebox-worst' ? 'white-box worst case (upper bound)' : 'white-box pgd (upper bound)', a.baselines.whiteBox),
    row('labelled shadow (labels + middle)', a.baselines.labelledShadow),
    row('transfer (labelled D_aux)', a.baselines.transfer),
    row('transfer (labelled held-out pool)', a.baselines.transferPool),
    row(a.config.shadow.tail === 'none' ? 'random shadow head' : 'random shadow pgd', a.baselines.randomShadow),
    row('random noise', a.baselines.randomNoise),
  ].filter((r): r is string[] => r !== null);
  const head = ['attack', 'clean', 'robust', 'ASR', ...(targeted ? ['target hit'] : []), 'L∞ max', 'L2 mean', 'sec'];
  const ratio = a.relativeToWhitebox === null ? '' : `  SPADV reaches ${a.relativeToWhitebox.toFixed(2)}× white-box success.`;
  const extra = a.objectives
    .slice(1)
    .map((o) => o.relativeToWhitebox.find((r) => r.method === p.method && r.epsilon === p.epsilon))
    .filter((r) => r)
    .map((r, i) => `${a.objectives[i + 1]!.objective} ${r!.ratio === null ? '–' : `${r!.ratio.toFixed(2)}×`}`);
  const clients = [...a.perClient].sort((x, y) => x.id - y.id);
  const ratio2 = (v: number | null) => (v === null ? '–' : `${v.toFixed(2)}×`);
  const crow = clients.slice(0, maxClients).map((c) => [
    String(c.id), String(c.samples), c.hellingerToAux === null ? '–' : c.hellingerToAux.toFixed(3), c.fallback ? `${c.shadow} (fallback)` : c.shadow, pct(c.cleanAccuracy), pct(c.robustAccuracy), pct(c.asr),
    ...(targeted ? [pct(c.targetedSuccess)] : []), ratio2(c.ratioToWhitebox),
  ]);
  const m = a.aggregate.meanOverClients;
  crow.push(['mean', '', '', '', pct(m.cleanAccuracy), pct(m.robustAccuracy), pct(m.asr), ...(targeted ? [''] : []), '']);
  return [
    `SPADV at ε=${p.epsilon}${targeted ? ` (targeted: ${JSON.stringify(a.config.target)}; class map ${p.oracleTargetMap ? 'from the evaluation-side ORACLE, not an attacker\'s figure' : `from ${a.config.targetMap.samples} labelled D_aux images`})` : ''}, |D_aux|=${a.aux.size} (${a.aux.source}), ${a.observedSamples} observed samples.${ratio}`,
    ...(extra.length ? [`other stage-1 objectives (× white-box): ${extra.join(', ')}`] : []),
    table(head, rows),
    '',
    `per client (test set re-weighted to each client's label distribution; H = Hellinger distance to D_aux's):`,
    table(['client', 'samples', 'H(aux)', 'shadow', 'clean', 'robust', 'ASR', ...(targeted ? ['target hit'] : []), '÷ white-box'], crow),
    ...(clients.length > maxClients ? [`… ${clients.length - maxClients} more clients in results.json (attack.perClient)`] : []),
  ].join('\n');
}

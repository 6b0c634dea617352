import { DEFENCES, formatBootstrap, formatPercentInterval, type DefenceKind } from '@splitfleet/splitcore';
import type { PooledRow } from './pool.ts';

/**
 * The defence study's answer (issue #21): for each defence, the weakest strength at which SPADV's
 * success falls to ≤ 0.3× its undefended value, with the clean-accuracy cost and the traffic there
 * — or "not reached" with the strongest strength tried. Reads a study whose grid has `defence`
 * (examples/defence-study.yaml): one point with no defence, the others one defence each.
 */
export interface DefencePoint {
  readonly kind: DefenceKind | 'none';
  /** The defence's strength option's value (its registry's `strength`); null for none. */
  readonly strength: number | null;
  readonly row: PooledRow;
}

export const TARGET_RATIO = 0.3;

/** SPADV rows (the first objective and ε found) of a study over `defence`, one per grid point. */
export function defencePoints(rows: readonly PooledRow[]): DefencePoint[] {
  const spadv = rows.filter((r) => r.method.startsWith('spadv') && 'defence' in r.settings);
  const first = spadv[0];
  if (!first) return [];
  return spadv.filter((r) => r.epsilon === first.epsilon && r.method === first.method && r.objective === first.objective).map((row) => {
    const raw = row.settings['defence'];
    const list = (Array.isArray(raw) ? raw : [raw]) as Record<string, unknown>[];
    const d = list[0];
    if (!d) return { kind: 'none', strength: null, row };
    const kind = d['kind'] as DefenceKind;
    return { kind, strength: (d[DEFENCES[kind].strength] as number | null) ?? null, row };
  });
}

/** Stronger first is not the same direction for every defence: label-rr's ε and quantise's bits protect more as they fall. */
const strongerWhenSmaller = (k: DefenceKind) => k === 'label-rr' || k === 'quantise';

export function defenceTargetMarkdown(rows: readonly PooledRow[]): string {
  const points = defencePoints(rows);
  const none = points.find((p) => p.kind === 'none');
  if (!none?.row.asr) return '';
  const undefended = none.row.asr.estimate;
  const clean0 = none.row.cleanAccuracy?.mean ?? null;
  const mb0 = none.row.megabytesPerRound?.mean ?? null;
  const trips0 = none.row.roundTripsPerRound?.mean ?? null;
  const kinds = [...new Set(points.map((p) => p.kind))].filter((k): k is DefenceKind => k !== 'none');
  const lines = kinds.map((kind) => {
    const tried = points.filter((p) => p.kind === kind && p.strength !== null)
      .sort((a, b) => (strongerWhenSmaller(kind) ? b.strength! - a.strength! : a.strength! - b.strength!));
    const hit = tried.find((p) => p.row.asr && p.row.asr.estimate <= TARGET_RATIO * undefended);
    const at = hit ?? tried[tried.length - 1];
    if (!at) return `| ${kind} | – | – | – | – | – |`;
    const cost = clean0 !== null && at.row.cleanAccuracy ? `${(100 * (at.row.cleanAccuracy.mean - clean0)).toFixed(1)} points` : '–';
    const trips = trips0 && at.row.roundTripsPerRound ? ` (round trips ${(at.row.roundTripsPerRound.mean / trips0).toFixed(2)}×)` : '';
    const traffic = mb0 !== null && at.row.megabytesPerRound ? `${(at.row.megabytesPerRound.mean / mb0).toFixed(2)}×${trips}` : '–';
    const where = hit ? `${DEFENCES[kind].strength} = ${at.strength}` : `not reached (strongest tried: ${DEFENCES[kind].strength} = ${at.strength})`;
    return `| ${kind} | ${where} | ${formatBootstrap(at.row.asr, 'percent')} | ${at.row.cleanAccuracy ? formatPercentInterval(at.row.cleanAccuracy) : '–'} | ${cost} | ${traffic} |`;
  });
  return [
    `### Defences: the weakest strength at which SPADV falls to ≤ ${TARGET_RATIO}× its undefended success (${formatBootstrap(none.row.asr, 'percent')}; ${none.row.method}, ε = ${none.row.epsilon})`,
    '',
    '| defence | strength | SPADV ASR there | clean accuracy there | accuracy cost | traffic vs none |',
    '|---|---|---|---|---|---|',
    ...lines,
    '',
  ].join('\n');
}

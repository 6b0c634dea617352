import { describe, expect, it } from 'vitest';
import { parseConfig } from '../experiment/config.ts';
import { resolveModel } from '../experiment/model-config.ts';
import { modelSummary, zooTable } from './model-summary.ts';

describe('splitfleet models', () => {
  it('lists every zoo model on both data sets with its parameters and cuts, the default starred', () => {
    const lines = zooTable();
    expect(lines).toHaveLength(1 + 6 * 2);
    expect(lines.find((l) => l.startsWith('resnet-18   cifar10'))).toMatch(/11,173,962 .* split-1\*: 32×32×64; split-2: 32×32×64; split-3: 16×16×128; split-4: 8×8×256$/);
  });

  it("shows a run's model layer by layer with the part each layer lands in, and parts that add up", () => {
    const { spec, cut } = resolveModel(parseConfig({ model: { name: 'resnet-8', cut: 'stage2' } }));
    const lines = modelSummary(spec, cut);
    expect(lines.filter((l) => l.startsWith('middle '))).toEqual([expect.stringMatching(/^middle +layer3\.0 +residual +\[7,7,64\] +57,728 +384$/), expect.stringMatching(/^middle +pool +gap/)]);
    expect(lines.at(-1)).toMatch(/^smashed data \[14,14,32\] per sample; parameters: head 19,376, middle 57,728, tail 650 \(total 77,754\)/);
  });
});

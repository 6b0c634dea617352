import { describe, expect, it } from 'vitest';
import { readDataset } from './data.ts';

describe('reading a dataset', () => {
  it('without training images (a server that trains on none): the same labels, count and shape, no pixels; the test split whole', () => {
    const full = readDataset('fashion-mnist', null);
    const lean = readDataset('fashion-mnist', null, { trainImages: false });
    expect(lean.train.images.length).toBe(0);
    expect(full.train.images.length).toBe(full.train.count * 784);
    expect([lean.train.count, lean.train.shape, lean.train.classes]).toEqual([full.train.count, full.train.shape, full.train.classes]);
    expect(Array.from(lean.train.labels)).toEqual(Array.from(full.train.labels));
    expect(lean.test.images).toEqual(full.test.images);
  });
});

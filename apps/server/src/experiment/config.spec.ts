import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.ts';
import { resolveModel } from './model-config.ts';

/** The lines of the ConfigError that parseConfig raises for `raw`. */
function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe('config errors: one line per problem naming the option, the value and what is allowed', () => {
  it.each<[string, unknown, string[]]>([
    ['a bad field of the chosen partition kind', { partition: { kind: 'dirichlet', alpha: -1 } }, ['partition.alpha: -1 is not allowed; must be > 0']],
    ['an integer option given a fraction', { partition: { kind: 'dirichlet', minSize: 1.5 } }, ['partition.minSize: 1.5 is not allowed; must be an integer']],
    ['an unknown partition kind', { partition: { kind: 'bogus' } }, ['partition.kind: "bogus" is not allowed; must be one of iid, dirichlet, pathological, shard, quantity, feature-noise, from-file']],
    ['a number above its maximum', { fleet: { clients: 1e9 } }, ['fleet.clients: 1000000000 is not allowed; must be ≤ 100000']],
    ['a value outside an enum', { fleet: { runtime: 'x' } }, ['fleet.runtime: "x" is not allowed; must be one of node, browser, mixed']],
    ['a string where a number belongs', { fleet: { clients: 'abc' } }, ['fleet.clients: "abc" is not allowed; must be a number']],
    ['an empty list', { attack: { craft: [] } }, ['attack.craft: [] is not allowed; must have at least 1 item']],
    ['a value no alternative of a union takes', { attack: { target: 'x' } }, ['attack.target: "x" is not allowed; must be one of untargeted, next, random, or an object']],
    ['a missing required field', { training: { optimizer: { name: 'sgd', lr: 0.1 } } }, ['training.optimizer.momentum: missing; must be a number']],
    ['an unknown option', { fleet: { bogus: 2 } }, ['fleet.bogus: 2 is not an option; fleet takes clients, workers, runtime, backend, openSlots, joinTimeoutSeconds, population, sample, availability, profiles']],
    ['a population with a different client count', { fleet: { clients: 8, population: 1000 } }, ["fleet.clients: 8 is not allowed with fleet.population 1000; a population run's clients are its population (give fleet.population only)"]],
    ['a population without token auth', { fleet: { population: 1000 }, server: { auth: false } }, ['fleet.population: not allowed with server.auth false; a summoned client proves its id with a token']],
    ['a population with open join slots', { fleet: { population: 1000, openSlots: 2 } }, [expect.stringMatching(/^fleet\.openSlots: 2 is not allowed with fleet\.population; /)]],
    ['a population of browser clients', { fleet: { population: 1000, runtime: 'browser' } }, [expect.stringMatching(/^fleet\.runtime: browser is not allowed with fleet\.population; ephemeral clients run on Node worker_threads/)]],
    ['an unknown top-level option', { bogus: 1 }, ['bogus: 1 is not an option; the top level takes seed, data, model, partition, fleet, training, server, attack, defence']],
    ['more open join slots than clients', { fleet: { clients: 4, openSlots: 5 } }, ['fleet.openSlots: 5 is not allowed; must be ≤ fleet.clients (4)']],
    ['open join slots without token auth', { fleet: { openSlots: 1 }, server: { auth: false } }, [expect.stringMatching(/^fleet\.openSlots: 1 is not allowed with server\.auth false; open slots are handed out as tokens/)]],
    ['a cut the model does not have', { model: { cut: { headEnd: 5, tailStart: 6 } } }, [expect.stringMatching(/^model\.cut: \{"headEnd":5,"tailStart":6\} is not allowed; cut\.headEnd must be an integer in \[1, 4\]/)]],
  ])('%s', (_what, raw, lines) => {
    expect(problems(raw)).toEqual(lines);
  });

  it('a population run: fleet.clients becomes the population', () => {
    expect(parseConfig({ fleet: { population: 100_000, sample: 100 } }).fleet).toMatchObject({ clients: 100_000, population: 100_000, sample: 100 });
    expect(parseConfig({ fleet: { population: 50, clients: 50 } }).fleet.clients).toBe(50);
  });

  it('an option of a partition kind that is not set names the kind to set and checks the option against it', () => {
    // `--set partition.alpha=-1` over the default partition ({kind: iid}) used to report only
    // "Invalid discriminator value" for partition.kind
    expect(problems({ partition: { alpha: -1 } })).toEqual([
      'partition.kind: missing; must be dirichlet, the only kind with alpha',
      'partition.alpha: -1 is not allowed; must be > 0',
    ]);
    expect(problems({ partition: { alpha: 0.3, minSize: 2 } })).toEqual(['partition.kind: missing; must be dirichlet, the only kind with alpha, minSize']);
    expect(problems({ partition: { minSize: 3 } })).toEqual(['partition.kind: missing; must be dirichlet or quantity (the kinds with minSize)']);
  });

  it('an option the chosen kind does not take is named with what that kind takes', () => {
    expect(problems({ partition: { kind: 'iid', alpha: 0.3 } })).toEqual(['partition.alpha: 0.3 is not an option; partition of this kind takes kind']);
  });

  it('reports every problem, each on its own line', () => {
    expect(problems({ fleet: { clients: 0, runtime: 'x' }, seed: 1.5 })).toEqual([
      'seed: 1.5 is not allowed; must be an integer',
      'fleet.clients: 0 is not allowed; must be ≥ 1',
      'fleet.runtime: "x" is not allowed; must be one of node, browser, mixed',
    ]);
  });
});

describe('model config errors name the layer and the shapes that do not fit', () => {
  const layers = (...ls: object[]) => ({ model: { name: 'mine', layers: [...ls] } });
  const fc10 = { name: 'fc', kind: 'dense', units: 10 };
  it.each<[string, unknown, string]>([
    ['an unknown zoo model', { model: { name: 'resnet-99' } }, 'model.name: "resnet-99" is not allowed; must be one of cnn-small, cnn-bn, vgg-mini, resnet-8, resnet-20, resnet-18, or give model.layers'],
    ['an unknown layer kind', layers({ name: 'c1', kind: 'conv3d', filters: 8 }, { name: 'p', kind: 'maxpool' }, fc10), 'model.layers.0.kind: "conv3d" is not allowed; must be one of conv2d, maxpool, avgpool, gap, flatten, dropout, batchnorm, residual, dense'],
    ['a bad layer option', layers({ name: 'c1', kind: 'conv2d', filters: -8 }, { name: 'p', kind: 'maxpool' }, fc10), 'model.layers.0.filters: -8 is not allowed; must be > 0'],
    ['a kernel larger than its input', layers({ name: 'c1', kind: 'conv2d', filters: 8, kernel: 40, padding: 'valid' }, { name: 'p', kind: 'maxpool' }, fc10), 'model.layers: (3 layers on fashion-mnist [28,28,1]) is not allowed; layer c1: input [28,28,1] is smaller than the 40×40 kernel'],
    ['an image layer after the image is gone', layers({ name: 'c1', kind: 'conv2d', filters: 8 }, { name: 'g', kind: 'gap' }, { name: 'p', kind: 'maxpool' }, fc10), 'model.layers: (4 layers on fashion-mnist [28,28,1]) is not allowed; layer p: maxpool needs an [h, w, c] input, got [8]'],
    ['a layer name used twice', layers({ name: 'c1', kind: 'conv2d', filters: 8 }, { name: 'c1', kind: 'maxpool' }, fc10), 'model.layers: (3 layers on fashion-mnist [28,28,1]) is not allowed; layer c1: the name is used twice (layer names are cut-point names)'],
    ['a last layer without one output per class', layers({ name: 'c1', kind: 'conv2d', filters: 8 }, { name: 'p', kind: 'maxpool' }, { name: 'fc', kind: 'dense', units: 7 }), 'model.layers: (3 layers on fashion-mnist [28,28,1]) is not allowed; layer fc: the model must end with 10 outputs (one per class), its output shape is [7]'],
    ['a cut at a layer the model lacks', { model: { ...layers({ name: 'c1', kind: 'conv2d', filters: 8 }, { name: 'p', kind: 'maxpool' }, fc10).model, cut: { head: 'c1', tail: 'fcx' } } }, 'model.cut: {"head":"c1","tail":"fcx"} is not allowed; tail "fcx" is not a layer of mine; layers: c1, p, fc'],
    ['a cut name the model does not have', { model: { name: 'resnet-18', cut: 'split-9' } }, 'model.cut: "split-9" is not allowed; resnet-18 has the cuts split-1, split-2, split-3, split-4; or give {head, tail} layer names or {headEnd, tailStart}'],
  ])('%s', (_what, raw, line) => {
    expect(problems(raw)).toEqual([line]);
  });

  it('accepts a config-defined model with named cut points, and the zoo ResNets on both data sets', () => {
    const cfg = parseConfig({ model: { name: 'mine', layers: [{ name: 'c1', kind: 'conv2d', filters: 8, activation: 'relu' }, { name: 'bn', kind: 'batchnorm' }, { name: 'p', kind: 'maxpool' }, { name: 'fc', kind: 'dense', units: 10 }], cut: { head: 'bn', tail: 'fc' } } });
    expect(resolveModel(cfg).cut).toEqual({ headEnd: 2, tailStart: 3 });
    expect(resolveModel(parseConfig({ model: { name: 'resnet-18', cut: 'split-3' }, data: { name: 'cifar10', dir: '/data/cifar' } })).cut).toEqual({ headEnd: 6, tailStart: 11 });
    expect(resolveModel(parseConfig({ model: { name: 'resnet-18', cut: 'split-3' } })).spec.inputShape).toEqual([28, 28, 1]);
  });
});

describe('attacker data from another data set (attack.aux.source: dataset)', () => {
  const spadv = (aux: object, more: object = {}) => ({ attack: { method: 'spadv', aux, ...more } });
  it.each<[string, unknown, string]>([
    ['no dataset named', spadv({ source: 'dataset' }, { baselines: ['noise'] }), 'attack.aux.dataset: missing; attack.aux.source dataset needs {name: mnist | fashion-mnist | cifar10, dir}'],
    ['the transfer baseline, which needs D_aux labels of the clients\' classes', spadv({ source: 'dataset', dataset: { name: 'mnist' } }, { baselines: ['transfer'] }), "attack.baselines: transfer is not allowed with attack.aux.source dataset; its surrogate trains on D_aux's labels, which belong to another data set's classes"],
    ['the labelled-shadow baseline, which needs D_aux labels of the clients\' classes', spadv({ source: 'dataset', dataset: { name: 'mnist' } }, { baselines: ['labelled-shadow'] }), "attack.baselines: labelled-shadow is not allowed with attack.aux.source dataset; it trains on D_aux's labels, which belong to another data set's classes"],
    ['a client-shaped draw', spadv({ source: 'dataset', dataset: { name: 'mnist' }, fromClient: 1 }, { baselines: ['noise'] }), "attack.aux.fromClient: 1 is not allowed with attack.aux.source dataset; a client's label mix shapes only held-out draws"],
    ['a dataset with the held-out source', spadv({ dataset: { name: 'mnist' } }), 'attack.aux.dataset: {"name":"mnist","dir":null} is not allowed with attack.aux.source heldout; set attack.aux.source: dataset'],
    ['a target class with the head-only crafts', { attack: { method: 'spadv', craft: ['middle-l2'], target: 'next' } }, 'attack.target: "next" is not allowed with attack.craft middle-l2; they push the middle\'s output away from the clean one and know no classes (untargeted only)'],
    ['a craft that needs a shadow tail with a head-only shadow', { attack: { method: 'spadv', shadow: { tail: 'none' } } }, 'attack.craft: pgd, feature is not allowed with attack.shadow.tail none; it needs a shadow tail (allowed: middle-l2, middle-cosine)'],
    ['untargeted white-box components with a target', { attack: { method: 'spadv', target: 'next', baselines: ['whitebox', 'whitebox-apgd'] } }, 'attack.baselines: whitebox-apgd is not allowed with attack.target "next"; they are untargeted (targeted: whitebox)'],
    ['more labelled images for the targeted class map than D_aux holds', { attack: { method: 'spadv', target: 'next', baselines: ['whitebox'], aux: { size: 16 }, targetMap: { samples: 32 } } }, 'attack.targetMap.samples: 32 is not allowed with attack.aux.size 16; the labelled images are drawn from D_aux (at most attack.aux.size)'],
    ['a worst case over no white-box component', { attack: { method: 'spadv', baselines: ['noise', 'whitebox-worst'] } }, 'attack.baselines: whitebox-worst needs at least one of whitebox, whitebox-cw, whitebox-apgd to take the worst case over'],
    ['an objective that trains a shadow tail with a head-only shadow', { attack: { method: 'spadv', shadow: { tail: 'none' }, objective: 'cluster', craft: ['middle-cosine'] } }, 'attack.objective: cluster is not allowed with attack.shadow.tail none; it trains ĥ through a shadow tail (allowed: match, observe, match-middle)'],
  ])('refuses %s in one line', (_what, raw, line) => {
    expect(problems(raw)).toEqual([line]);
  });
});

describe('attack defaults (issue #20): the evaluation slice, every image of it, every baseline the attack allows', () => {
  const attack = (more: object = {}) => parseConfig({ attack: { method: 'spadv', ...more } }).attack;
  it('an untargeted attack on held-out D_aux measures every baseline, the white-box worst case among them, on the whole evaluation slice', () => {
    const a = attack();
    expect(a.evalSlice).toBe('eval');
    expect(a.evalSamples).toBeNull();
    expect(a.baselines).toEqual(['whitebox', 'whitebox-cw', 'whitebox-apgd', 'whitebox-worst', 'labelled-shadow', 'transfer-pool', 'transfer', 'random-shadow', 'noise']);
  });
  it('leaves out what the attack refuses when named: untargeted-only components for a target, label-trained baselines for another data set', () => {
    expect(attack({ target: 'next' }).baselines).toEqual(['whitebox', 'whitebox-worst', 'labelled-shadow', 'transfer-pool', 'transfer', 'random-shadow', 'noise']);
    expect(attack({ aux: { source: 'dataset', dataset: { name: 'mnist' } } }).baselines).toEqual(['whitebox', 'whitebox-cw', 'whitebox-apgd', 'whitebox-worst', 'transfer-pool', 'random-shadow', 'noise']);
  });
  it('baselines named in the config are kept as given', () => {
    expect(attack({ baselines: ['noise'] }).baselines).toEqual(['noise']);
  });
});

describe('defence config errors (issue #21)', () => {
  it.each<[string, unknown, string]>([
    ['client sizes with the per-class Dirichlet scheme', { partition: { kind: 'dirichlet', sizes: 'power-law' } }, 'partition.sizes: power-law is not allowed with partition.scheme per-class (its sizes follow from the per-class draws); use partition.scheme: per-client, or sizes: equal'],
    ['an unknown defence', { defence: { kind: 'dropout', p: 0.1 } }, 'defence.0.kind: "dropout" is not allowed; must be one of smashed-noise, gradient-noise, maxnorm, label-rr, quantise, topk, nopeek, adversarial'],
    ['a negative strength', { defence: [{ kind: 'smashed-noise', sigma: -1 }] }, 'defence.0.sigma: -1 is not allowed; must be ≥ 0'],
    ['a defence that cannot act in the run', { training: { batchSize: 1 }, defence: { kind: 'maxnorm', strength: 1 } }, "defence.0.kind: maxnorm is not allowed with training.batchSize 1; it lifts each sample's gradient towards the batch's largest (needs a batch of 2 or more)"],
  ])('refuses %s in one line', (_what, raw, line) => {
    expect(problems(raw)).toEqual([line]);
  });
});

describe('shadow scopes and the observation budget (attack.shadowScope, attack.observe)', () => {
  it('refuses more clusters than clients, and observation rings that could outgrow their bound, each in one line', () => {
    expect(problems({ fleet: { clients: 4 }, attack: { method: 'spadv', shadowScope: 'cluster', clusters: 5 } })).toEqual([
      'attack.clusters: 5 is not allowed; must be ≤ fleet.clients (4), or null to choose it by silhouette',
    ]);
    const [line, ...rest] = problems({ fleet: { clients: 1000 }, attack: { method: 'spadv', shadowScope: 'client', observe: { batches: 64, maxMegabytes: 100 } } });
    expect(rest).toEqual([]);
    expect(line).toMatch(/^attack\.observe\.batches: 64 per client × 1000 clients \(attack\.shadowScope client\) × [0-9.]+ MB per batch = [0-9]+ MB exceeds attack\.observe\.maxMegabytes \(100\); lower attack\.observe\.batches or raise the limit$/);
    // the fleet scope keeps one ring for the whole fleet: 1000 clients cost no more than 4
    expect(() => parseConfig({ fleet: { clients: 1000 }, attack: { method: 'spadv', observe: { batches: 64, maxMegabytes: 100 } } })).not.toThrow();
    expect(problems({ attack: { method: 'spadv', shadowScope: 'everyone' } })[0]).toMatch(/^attack\.shadowScope: "everyone" is not allowed; must be one of fleet, client, cluster/);
  });
});

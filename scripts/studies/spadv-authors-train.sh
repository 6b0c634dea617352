#!/bin/sh
# Training runs for issue #18's measurements: resnet-8, full FMNIST, 1 client, 2 rounds, per cut and seed.
# usage: scripts/studies/spadv-authors-train.sh "seed:cut seed:cut ..."   (one lane; run two lanes side by side on 2 cores)
cd "$(dirname "$0")/../.."
export PATH=$PWD/node_modules/.bin:$PATH
mkdir -p runs/authors
for job in $1; do
  seed=${job%%:*}; cut=${job##*:}
  d=runs/authors/train-$cut-s$seed
  [ -f $d/final.ckpt ] && continue
  npx splitfleet run --config examples/resnet-fmnist.yaml -q -o $d \
    --set seed=$seed --set model.cut=$cut --set fleet.clients=1 --set fleet.workers=1 --set training.rounds=2 --set training.batchSize=128 \
    --set attack.method=spadv --set attack.aux.holdout=2000 --set attack.observe.batches=32 --set attack.shadow.steps=1 \
    --set attack.evalSamples=10 --set 'attack.baselines=[]' --set 'attack.craft=[pgd]' > $d.log 2>&1
  rc=$?
  echo "$(date +%T) done $d rc=$rc" >> runs/authors/train.progress
done

#!/bin/sh
# Training runs for issue #19's measurements: cnn-small on the committed Fashion-MNIST subset, Dirichlet
# label skew, the server keeping a ring of observations per client (so every shadow scope can be attacked
# from the same run afterwards with fleet-scopes-attack.sh).
# usage: scripts/studies/fleet-scopes-train.sh "mode:alpha:clients:seed ..." [extra --set ...]   (one lane; two lanes fit 2 cores)
cd "$(dirname "$0")/../.."
export PATH=$PWD/node_modules/.bin:$PATH
mkdir -p runs/scopes
jobs=$1; shift
for job in $jobs; do
  mode=$(echo $job | cut -d: -f1); alpha=$(echo $job | cut -d: -f2); clients=$(echo $job | cut -d: -f3); seed=$(echo $job | cut -d: -f4)
  d=runs/scopes/$mode-a$alpha-c$clients-s$seed
  [ -f $d/final.ckpt ] && continue
  t0=$(date +%s)
  npx splitfleet run --config examples/quick.yaml -q -o $d \
    --set seed=$seed --set training.mode=$mode --set partition.kind=dirichlet --set partition.alpha=$alpha --set partition.minSize=20 \
    --set fleet.clients=$clients --set training.rounds=6 \
    --set attack.shadowScope=client --set attack.observe.batches=32 --set attack.shadow.steps=1 \
    --set attack.evalSamples=10 --set 'attack.baselines=[]' --set 'attack.craft=[pgd]' "$@" > $d.log 2>&1
  rc=$?
  echo "$(date +%T) done $d rc=$rc $(( $(date +%s) - t0 ))s" >> runs/scopes/train.progress
done

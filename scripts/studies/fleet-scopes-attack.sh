#!/bin/sh
# Attacks for issue #19 on the runs of fleet-scopes-train.sh (waits for each one's final.ckpt): one side
# report per shadow scope, atk-<scope>.json, on the evaluation slice (second half of the test split).
# usage: scripts/studies/fleet-scopes-attack.sh "mode:alpha:clients:seed ..." "whitebox fleet client cluster client-sil ..." [extra --set ...]
cd "$(dirname "$0")/../.."
export PATH=$PWD/node_modules/.bin:$PATH
jobs=$1; scopes=$2; shift 2
# EVAL: images of the evaluation slice attacked per report (500 = all of it on the committed subset)
common="--set attack.evalSlice=eval --set attack.evalSamples=${EVAL:-500} --set attack.epsilons=null --set attack.epsilon=0.1"
for job in $jobs; do
  mode=$(echo $job | cut -d: -f1); alpha=$(echo $job | cut -d: -f2); clients=$(echo $job | cut -d: -f3); seed=$(echo $job | cut -d: -f4)
  d=runs/scopes/$mode-a$alpha-c$clients-s$seed
  while [ ! -f $d/final.ckpt ]; do sleep 30; done
  for scope in $scopes; do
    out=$d/atk-$scope.json
    [ -f $out ] && continue
    case $scope in
      # the white-box yardstick (per-sample worst case of PGD, PGD-margin, APGD-CE) and the noise floor, once per run
      # (WHITEBOX overrides the components, e.g. WHITEBOX=whitebox,noise for PGD alone on large fleets)
      whitebox) args="--set attack.shadowScope=fleet --set attack.shadow.steps=1 --set attack.baselines=[${WHITEBOX:-whitebox,whitebox-cw,whitebox-apgd,whitebox-worst,noise}]";;
      # the training run's attack section trained a 1-step shadow: the study's settings are set here
      # <scope>-sil: label inference with as many classes as the silhouette finds (attack.inferClasses)
      *-sil) args="--set attack.shadowScope=${scope%-sil} --set attack.inferClasses=silhouette --set attack.shadow.steps=400 --set attack.craft=[pgd] --set attack.objective=observe --set attack.baselines=[]";;
      # cluster-k<N>: N clusters instead of the silhouette's choice (attack.clusters)
      cluster-k*) args="--set attack.shadowScope=cluster --set attack.clusters=${scope#cluster-k} --set attack.shadow.steps=400 --set attack.craft=[pgd] --set attack.objective=observe --set attack.baselines=[]";;
      *) args="--set attack.shadowScope=$scope --set attack.shadow.steps=400 --set attack.craft=[pgd] --set attack.objective=observe --set attack.baselines=[]";;
    esac
    t0=$(date +%s)
    npx splitfleet attack --run $d -q $common $args "$@" --out $out > $d/atk-$scope.log 2>&1
    rc=$?
    echo "$(date +%T) $d $scope rc=$rc $(( $(date +%s) - t0 ))s" >> runs/scopes/attack.progress
  done
done

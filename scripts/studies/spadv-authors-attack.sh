#!/bin/sh
# Attacks for issue #18 on the training runs of spadv-authors-train.sh (waits for each one's final.ckpt). usage: scripts/studies/spadv-authors-attack.sh "seed:cut ..." "setting ..."
cd "$(dirname "$0")/../.."
export PATH=$PWD/node_modules/.bin:$PATH
common="--set attack.evalSlice=eval --set attack.evalSamples=500 --set attack.epsilons=[0.031372549,0.1] --set attack.epsilon=0.1 --set attack.steps=20 --set attack.shadow.steps=400"
ood="--set attack.aux.source=dataset --set attack.aux.dataset.name=mnist"
ind="--set attack.aux.source=heldout --set attack.aux.dataset=null --set attack.aux.alpha=0.5"
headonly="--set attack.shadow.tail=none --set attack.shadow.architecture=single --set attack.objectives=[observe,match-middle] --set attack.craft=[middle-l2,middle-cosine]"
learned="--set attack.shadow.tail=learned --set attack.shadow.architecture=same --set attack.objectives=null --set attack.objective=observe --set attack.craft=[pgd]"
for job in $1; do
  seed=${job%%:*}; cut=${job##*:}
  d=runs/authors/train-$cut-s$seed
  while [ ! -f $d/final.ckpt ]; do sleep 30; done
  for setting in $2; do
    out=$d/atk-$setting.json
    [ -f $out ] && continue
    case $setting in
      authors-ood1024) args="$headonly $ood --set attack.aux.size=1024 --set attack.baselines=[whitebox,random-shadow,noise]";;
      authors-ood128)  args="$headonly $ood --set attack.aux.size=128 --set attack.baselines=[]";;
      authors-in1024)  args="$headonly $ind --set attack.aux.size=1024 --set attack.baselines=[]";;
      ours-in1024)     args="$learned $ind --set attack.aux.size=1024 --set attack.baselines=[]";;
      ours-in128)      args="$learned $ind --set attack.aux.size=128 --set attack.baselines=[]";;
      whitebox)        args="--set attack.shadow.tail=none --set attack.shadow.architecture=single --set attack.objectives=null --set attack.objective=match --set attack.craft=[middle-l2] --set attack.shadow.steps=1 $ood --set attack.aux.size=128 --set attack.baselines=[whitebox,whitebox-cw,whitebox-apgd,whitebox-worst]";;
      ours-ood1024)    args="$learned $ood --set attack.aux.size=1024 --set attack.baselines=[]";;
    esac
    t0=$(date +%s)
    npx splitfleet attack --run $d -q $common $args --out $out > $d/atk-$setting.log 2>&1
    rc=$?
    echo "$(date +%T) $d $setting rc=$rc $(( $(date +%s) - t0 ))s" >> runs/authors/attack.progress
  done
done

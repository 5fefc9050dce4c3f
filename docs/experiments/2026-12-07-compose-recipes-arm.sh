#!/bin/sh
# One arm of the recipe comparison on compose: configs/compose-<recipe>.yaml started from the main
# job's warm-up model of seed <seed> (copied to runs/warmup/seed<seed>/warmup-model), with the
# demonstrations still fed to rl.demos, <steps> RL steps (the schedule runs over them), and Adam's
# rate warmed up over 5 steps because a run from policy.initFrom starts fresh Adam moments. Every
# arm, the GRPO baseline (recipe `main`) included, is this file with another recipe.
# Usage, from the repository root: sh docs/experiments/2026-12-07-compose-recipes-arm.sh <recipe> <seed> <steps>
set -eu
recipe=$1 seed=$2 steps=$3
mkdir -p runs/arms
config=runs/arms/$recipe-seed$seed.yaml
cat > "$config" <<YAML
extends: ../../configs/compose-$recipe.yaml
run: { name: arm-$recipe, outDir: runs/arms }
policy: { initFrom: runs/warmup/seed$seed/warmup-model }
pretrain: { steps: 0 }
warmup: { steps: 0 }
rl: { adam: { warmupSteps: 5 } }
eval: { alsoOn: [] }
YAML
exec corepack pnpm exec toolgym train "$config" --seed "$seed" --steps "$steps" --store "runs/arms/$recipe-seed$seed.sqlite"

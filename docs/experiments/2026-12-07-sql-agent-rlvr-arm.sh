#!/bin/sh
# One arm of Agent-RLVR against the same RL without feedback on sql: configs/sql-agent-rlvr.yaml
# started from that config's warm-up model of seed <seed> (runs/sql-agent-rlvr-seed<seed>/warmup-model,
# left by `toolgym train configs/sql-agent-rlvr.yaml --seed <seed>`), no warm-up, <steps> RL steps.
# `guided` is the config as it is (one guided re-attempt, trained from the re-attempt on); `off` is
# the config without `environment.feedback` (one answer per episode). Same seed, steps and tasks.
# Usage, from the repository root: sh docs/experiments/2026-12-07-sql-agent-rlvr-arm.sh <guided|off> <seed> <steps>
set -eu
arm=$1 seed=$2 steps=$3
mkdir -p runs/arms
case $arm in
  guided) base=../../configs/sql-agent-rlvr.yaml ;;
  off)
    sed '/^  feedback:/,/^    trainOn:/d' configs/sql-agent-rlvr.yaml > runs/arms/sql-agent-rlvr-off.yaml
    base=sql-agent-rlvr-off.yaml
    ;;
  *) echo "arm: guided or off" >&2; exit 2 ;;
esac
config=runs/arms/sql-$arm-seed$seed.yaml
cat > "$config" <<YAML
extends: $base
run: { name: arm-sql-$arm, outDir: runs/arms }
policy: { initFrom: runs/sql-agent-rlvr-seed$seed/warmup-model }
warmup: { steps: 0 }
YAML
exec corepack pnpm exec toolgym train "$config" --seed "$seed" --steps "$steps" --store "runs/arms/sql-$arm-seed$seed.sqlite"

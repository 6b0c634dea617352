#!/bin/bash
# The resident memory of a run's server process alone (not its fleet): runs `splitfleet run` with the
# given arguments, samples the server's /proc/PID/status every 0.2 s, and prints its peak (VmHWM,
# the kernel's high-water mark over the process's life) and the range of VmRSS. A population run
# re-executes itself once with MALLOC_ARENA_MAX=2 (apps/server/src/cli/malloc-arenas.ts): the server
# is then that child (the ephemeral fleet process inherits the variable; its command line tells it
# apart); otherwise the server is the command itself.
#   scripts/server-memory.sh --config examples/population-100k.yaml --out runs/pop-mem
# Samples go to <out>.mem (epoch seconds, pid, VmHWM kB, VmRSS kB).
set -euo pipefail
cd "$(dirname "$0")/.."
out=""
for ((i = 1; i <= $#; i++)); do [ "${!i}" = "--out" ] && j=$((i + 1)) && out="${!j}"; done
[ -n "$out" ] || { echo "scripts/server-memory.sh: give --out <dir> (the samples go to <dir>.mem)" >&2; exit 2; }
node apps/server/bin/splitfleet.mjs run "$@" --quiet &
top=$!
: > "$out.mem"
while kill -0 "$top" 2>/dev/null; do
  srv=$top
  for p in $(pgrep -P "$top" || true); do
    if grep -qa "MALLOC_ARENA_MAX=2" "/proc/$p/environ" 2>/dev/null && ! grep -qa ephemeral "/proc/$p/cmdline"; then srv=$p; fi
  done
  st=$(grep -E 'VmHWM|VmRSS' "/proc/$srv/status" 2>/dev/null | awk '{print $2}' | tr '\n' ' ' || true)
  [ -n "$st" ] && echo "$(date +%s.%N | cut -c1-14) $srv $st" >> "$out.mem"
  sleep 0.2
done
wait "$top"
# the server: the re-executed child when there was one (its parent only waits for it), else the command
srv=$(awk -v top="$top" '$2 != top { p = $2 } END { print p ? p : top }' "$out.mem")
awk -v pid="$srv" '$2 == pid { if ($3 > hwm) hwm = $3; if (min == "" || $4 < min) min = $4; if ($4 > max) max = $4; n++ }
  END { printf "server resident memory: peak %.0f MiB (VmHWM), VmRSS %.0f–%.0f MiB over %d samples\n", hwm / 1024, min / 1024, max / 1024, n }' "$out.mem"

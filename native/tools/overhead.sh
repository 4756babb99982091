#!/usr/bin/env bash
# Collector overhead figure (not a test): a syscall-heavy workload with and without the collector.
#   native/tools/overhead.sh [ROUNDS] [REPEATS] [DATADIR] [IO]
# Workload: test/fixtures/collector/heavy.c, ROUNDS x (open, IO x 16-byte write, lseek,
# IO x 16-byte read, close): 2 x IO + 3 syscalls and one FileFlow record per round (IO default 64;
# IO=0 is a record-rate stress). Runs alternate (baseline, traced) REPEATS
# times; reports the minimum and median wall time of each, the collector's records/s and its
# ring-buffer drops. DATADIR (default: a new temp dir) holds the workload's files; not below /dev,
# /proc, /sys or /usr/lib, where read-only flows are not written (FILE_READ_MODE=2, as sf-collector).
# Needs root and a built collector (make -C native).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-20000}
repeats=${2:-5}
io=${4:-64}
bin="$here/build/sfcollector"
work=$(mktemp -d)
if [ -n "${3:-}" ]; then
  data=$3
  trap 'rm -rf "$work"' EXIT
else
  data=$work/data
  mkdir "$data"
  trap 'rm -rf "$work"' EXIT
fi
cc -O2 -o "$work/heavy" "$here/../test/fixtures/collector/heavy.c"

now() { date +%s.%N; }
base=() traced=() recs=() drops=()
for ((i = 0; i < repeats; i++)); do
  t0=$(now); "$work/heavy" "$data" "$rounds" "$io" >/dev/null; t1=$(now)
  base+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
  t0=$(now); "$bin" -w "$work/out.sf" -- "$work/heavy" "$data" "$rounds" "$io" >/dev/null 2>"$work/err"; t1=$(now)
  traced+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
  recs+=("$(sed -n 's/.*: \([0-9]*\) records written.*/\1/p' "$work/err")")
  drops+=("$(sed -n 's/.* \([0-9]*\) ring-buffer drops.*/\1/p' "$work/err")")
done
stats() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "min %.3f s  median %.3f s", a[1], a[int((NR+1)/2)]}'; }
syscalls=$((rounds * (2 * io + 3)))
echo "workload: $rounds rounds, $syscalls syscalls per run in $data, $repeats runs each (alternating)"
echo "baseline:       $(stats "${base[@]}")"
echo "with collector: $(stats "${traced[@]}")"
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bmed=$(med "${base[@]}")
tmed=$(med "${traced[@]}")
awk -v b="$bmed" -v t="$tmed" -v n="$syscalls" -v r="${recs[0]}" 'BEGIN {
  printf "overhead (medians): %.0f ns per syscall; %.0f syscalls/s -> %.0f syscalls/s\n", (t - b) * 1e9 / n, n / b, n / t
  printf "records per traced run: %d -> %.0f records/s\n", r, r / t
}'
echo "records per run: ${recs[*]}"
echo "ring-buffer drops per run: ${drops[*]}"

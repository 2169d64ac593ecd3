#!/usr/bin/env bash
# Runs one fuzz target until it has used CPU_SECONDS of CPU time (default 3600: one CPU-hour),
# in 10-minute rounds that resume from the round before's corpus, then prints one line. Each
# round's CPU time is appended to $work/cpu.log, so a run cut short (a machine stopped) resumes
# where it was: the budget counts every sitting on the corpus. It prints:
#   TARGET cpu_seconds=… execs_this_sitting=… cov=… ft=… corpus=… crashes=…
# A crash, leak, timeout or out-of-memory artifact stops it. Slow-unit artifacts do not count:
# libFuzzer times units by the wall clock, so a busy (or paused) machine makes them up.
# Usage: fuzz/run-for-cpu.sh TARGET [CPU_SECONDS]   (nightly toolchain, cargo-fuzz)
set -euo pipefail
target=$1
budget=${2:-3600}
here=$(cd "$(dirname "$0")" && pwd)
work=${FUZZ_WORK:-/tmp/sfgate-fuzz}/$target
mkdir -p "$work/corpus" "$work/artifacts"
cd "$here"
cargo +nightly fuzz build -O "$target" >/dev/null 2>&1
binary=$here/target/x86_64-unknown-linux-gnu/release/$target
touch "$work/cpu.log"
cpu=$(awk '{ total += $1 } END { printf "%d", total }' "$work/cpu.log")
execs=0 line=""
while (( cpu < budget )); do
  round=$(( budget - cpu < 600 ? budget - cpu : 600 ))
  /usr/bin/time -f "%U %S" -o "$work/round.time" \
    "$binary" "$work/corpus" "corpus/$target" -artifact_prefix="$work/artifacts/" \
    -max_total_time="$round" -rss_limit_mb=2048 -print_final_stats=1 >"$work/round.log" 2>&1 || true
  used=$(awk 'END { printf "%d", $1 + $2 + 0.5 }' "$work/round.time")
  echo "$used" >> "$work/cpu.log"
  cpu=$(( cpu + used ))
  runs=$(grep -oE 'Done [0-9]+ runs' "$work/round.log" | grep -oE '[0-9]+' || echo 0)
  execs=$(( execs + runs ))
  line=$(grep -E '^#[0-9]+' "$work/round.log" | tail -1)
  if ls "$work/artifacts" | grep -qv '^slow-unit-'; then break; fi
done
cov=$(echo "$line" | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+' || true)
ft=$(echo "$line" | grep -oE 'ft: [0-9]+' | grep -oE '[0-9]+' || true)
corpus=$(ls "$work/corpus" | wc -l)
crashes=$(ls "$work/artifacts" | grep -cv '^slow-unit-' || true)
echo "$target cpu_seconds=$cpu execs_this_sitting=$execs cov=$cov ft=$ft corpus=$corpus crashes=$crashes"

#!/usr/bin/env bash
# The A/B regression gate: builds BASE_REF (default: the previous commit) in a
# worktree of its own, and runs the base and the head (this working tree)
# binaries on the same work: rounds, each a fresh pair of processes
# (one base, one head) that take turns inference round by inference round
# (`run --lockstep`: after both have set up, base round 1, head round 1, …
# in an order drawn at random each time), so round r of both sides is
# measured a fraction of a second apart. `resnet-bench compare` then judges
# the raw samples per candidate and per layer: for each process pair the
# median of its round-by-round ratios, and over the pairs the Hodges–Lehmann
# ratio of head to base with an interval that holds for all series together
# (Bonferroni); pairs measured on a busy machine (steal, other processes, a
# halved FMA peak) are left out, and rounds are added until ROUNDS pairs
# measured on a quiet machine remain (at most MAX_ROUNDS rounds in all): a
# neighbour's burst costs time, not the verdict. (With the default 110
# series each interval is at 99.955%, which 12 pairs or fewer cannot bound
# at all: every series would come out inconclusive.)
#
#   regression    slower than THRESHOLD_PERCENT and the interval excludes no change  -> exit 1
#   inconclusive  the interval reaches past the threshold but the slowdown is not established
#                 (the noise is too large to tell; said plainly)                     -> exit 0
#   otherwise     unchanged or faster                                                -> exit 0
#   unusable input (bad arguments, a base that cannot be built or predates --json)  -> exit 2
#
# Usage: scripts/ci-regression.sh [BASE_REF] [THRESHOLD_PERCENT]
# Environment (defaults in brackets):
#   ROUNDS [16]: quiet round pairs wanted  MAX_ROUNDS [2 × ROUNDS]: rounds run at most
#   REPETITIONS [4]  MODEL [resnet50]  BACKENDS [tiled-simd,winograd]
#   VARIANT [the model's default]: e.g. keras  PLAN [none]: a plan file both sides also run
#   (series `plan`), e.g. PLAN=results/plan-resnet50-keras-batch1.json VARIANT=keras
#   THREADS [all cores]  AB_ROOT [.build-ab]: where the base worktree, its build and the rounds go
#   (share it between checkouts to build each base once).
#   BASE_BIN: a resnet-bench binary to use as the base instead of building BASE_REF (A/B of two
#   builds of the same code, e.g. other compiler flags; BASE_REF then only labels the report).
set -euo pipefail
cd "$(dirname "$0")/.."
base_ref=${1:-HEAD~1}
threshold=${2:-5}
rounds=${ROUNDS:-16}
repetitions=${REPETITIONS:-4}
model=${MODEL:-resnet50}
backends=${BACKENDS:-tiled-simd,winograd}
root=${AB_ROOT:-.build-ab}
fail() { echo "ci-regression: $*" >&2; exit 2; }
case $threshold in ''|*[!0-9.]*) fail "THRESHOLD_PERCENT must be a number, got '$threshold'";; esac
for v in rounds repetitions; do case ${!v} in ''|*[!0-9]*|0) fail "${v^^} must be a positive whole number, got '${!v}'";; esac; done
max_rounds=${MAX_ROUNDS:-$((2 * rounds))}
case $max_rounds in ''|*[!0-9]*|0) fail "MAX_ROUNDS must be a positive whole number, got '$max_rounds'";; esac
((max_rounds >= rounds)) || fail "MAX_ROUNDS ($max_rounds) must be at least ROUNDS ($rounds)"
base_commit=$(git rev-parse --verify --quiet "$base_ref^{commit}") || fail "unknown BASE_REF '$base_ref'"

scripts/setup.sh
head_bin=$PWD/.build/release/resnet-bench
mkdir -p "$root"
root=$(cd "$root" && pwd)
if [ -n "${BASE_BIN:-}" ]; then
  [ -x "$BASE_BIN" ] || fail "BASE_BIN '$BASE_BIN' is not an executable file"
  base_bin=$(cd "$(dirname "$BASE_BIN")" && pwd)/$(basename "$BASE_BIN")
  echo "ci-regression: the base is the binary $base_bin" >&2
else
  worktree=$root/base-${base_commit:0:12}
  if [ ! -d "$worktree" ]; then
    git worktree add --detach --quiet "$worktree" "$base_commit" || fail "could not check out $base_ref into $worktree"
  fi
  echo "ci-regression: building the base ${base_commit:0:12} in $worktree" >&2
  (cd "$worktree" && swift build -c release >&2) || fail "the base $base_ref does not build"
  base_bin=$worktree/.build/release/resnet-bench
fi
"$base_bin" run --help 2>/dev/null | grep -q -- "--json" || fail "the base $base_ref has no 'run --json' (it predates the A/B gate); choose a later base"

out=$root/rounds-$(date +%Y%m%dT%H%M%S)-$$
mkdir -p "$out/base" "$out/head" "$out/pipes"
common=()
[ -n "${THREADS:-}" ] && common=(--threads "$THREADS")
# Both sides get the same threads, variant and plan.
[ -n "${VARIANT:-}" ] && common+=(--variant "$VARIANT")
if [ -n "${PLAN:-}" ]; then
  [ -f "$PLAN" ] || fail "PLAN '$PLAN' is not a file"
  common+=(--plan "$(cd "$(dirname "$PLAN")" && pwd)/$(basename "$PLAN")")
fi
# A base from before `run --lockstep` is run the old way: whole processes
# alternating, compared by their medians (noisier on a machine whose speed
# changes within seconds).
lockstep=1
"$base_bin" run --help 2>/dev/null | grep -q -- "--lockstep" || {
  lockstep=0
  echo "ci-regression: the base has no 'run --lockstep'; its processes alternate whole instead of round by round" >&2
}
run_whole() {  # side round
  local bin=$base_bin
  [ "$1" = head ] && bin=$head_bin
  "$bin" run --model "$model" --backend "$backends" --layers --repetitions "$repetitions" --warmup 1 --no-check \
    --order-seed "$2" "${common[@]}" --json "$out/$1/round-$(printf %03d "$2").json" >/dev/null 2>>"$out/log.txt" \
    || fail "the $1 binary failed in round $2 (see $out/log.txt)"
}
start_side() {  # side round: starts one process that takes its turns through $out/pipes/<side>.{go,done}
  local bin=$base_bin
  [ "$1" = head ] && bin=$head_bin
  "$bin" run --model "$model" --backend "$backends" --layers --repetitions "$repetitions" --warmup 1 --no-check \
    --order-seed "$2" "${common[@]}" --lockstep "$out/pipes/$1" \
    --json "$out/$1/round-$(printf %03d "$2").json" >/dev/null 2>>"$out/log.txt" &
  pid[$1]=$!
}
# One turn: lets a side run one round and waits until it hands the turn back
# (its set-up too, on its first turn). The pipes are held open read-write
# here, so no open blocks and a write never does; a side whose process has
# exited (its final turn ends with it) is finished.
turn() {  # side fd_go fd_done
  local line
  echo go >&"$2"
  while ! read -r -t 0.2 -u "$3" line; do
    kill -0 "${pid[$1]}" 2>/dev/null || { live[$1]=0; return; }
  done
}
declare -A pid live
start=$(date +%s)
RANDOM=$((16#${base_commit:0:6}))
# Rounds until ROUNDS of them were measured on a quiet machine (or MAX_ROUNDS ran).
quiet=0
for ((r = 1; r <= max_rounds; r++)); do
  if ((r > rounds)); then
    quiet=$("$head_bin" compare "$out/base" "$out/head" --quiet-pairs) || fail "could not count the quiet rounds in $out"
    ((quiet >= rounds)) && break
    echo "ci-regression: $quiet of $((r - 1)) rounds were measured on a quiet machine; $rounds wanted, running round $r (at most $max_rounds)" >&2
  fi
  if ((!lockstep)); then
    if ((RANDOM % 2)); then order=(base head); else order=(head base); fi
    for side in "${order[@]}"; do run_whole "$side" "$r"; done
    echo "ci-regression: round $r (${order[*]}) done after $(( $(date +%s) - start )) s" >&2
    continue
  fi
  rm -f "$out"/pipes/*
  for side in base head; do mkfifo "$out/pipes/$side.go" "$out/pipes/$side.done"; done
  exec 3<>"$out/pipes/base.go" 4<>"$out/pipes/base.done" 5<>"$out/pipes/head.go" 6<>"$out/pipes/head.done"
  # One after the other: the base sets up and runs its warm-up round while
  # the head does not exist yet, then the head does while the base waits;
  # then they alternate, in an order drawn at random each time.
  live=([base]=1 [head]=1)
  start_side base "$r"; turn base 3 4
  start_side head "$r"; turn head 5 6
  while ((live[base] || live[head])); do
    if ((RANDOM % 2)); then order=(base head); else order=(head base); fi
    for side in "${order[@]}"; do
      ((live[$side])) || continue
      if [ "$side" = base ]; then turn base 3 4; else turn head 5 6; fi
    done
  done
  exec 3>&- 4>&- 5>&- 6>&-
  for side in base head; do wait "${pid[$side]}" || fail "the $side binary failed in round $r (see $out/log.txt)"; done
  echo "ci-regression: round $r done after $(( $(date +%s) - start )) s" >&2
done
ran=$((r - 1))
quiet=$("$head_bin" compare "$out/base" "$out/head" --quiet-pairs) || fail "could not count the quiet rounds in $out"
((quiet >= rounds)) || echo "ci-regression: only $quiet of $ran rounds were measured on a quiet machine ($rounds wanted); the verdicts below rest on them" >&2
echo "ci-regression: $ran rounds ($quiet quiet) of base ${base_commit:0:12} and head $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes') in $(( $(date +%s) - start )) s; samples in $out" >&2
set +e
"$head_bin" compare "$out/base" "$out/head" --threshold "$threshold"
status=$?
set -e
exit $status

#!/usr/bin/env bash
# End-to-end test of sharded sweeps on a real Slurm: installs a single-node cluster from
# Debian's packages if needed (tests/slurm/cluster.sh), submits a sweep as a job array plus
# its merge job with `inference-lab sweep --slurm --submit`, waits, and checks the merged
# tables against a local sweep of the same spec (byte for byte but for wall_ms). Then it
# loses one shard's journal, resubmits, and checks that only that shard ran again.
#
#   tests/slurm/e2e.sh            (as root; .ci/run runs it after the Rust tests)
#
# Uses target/debug/inference-lab (or $INFERENCE_LAB_BIN). Without root or network to install
# Slurm it is skipped with a message, unless CI=true, where that is a failure. Every wait is
# bounded; the whole script is meant to run under `timeout` too.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/slurm/cluster.sh
. "$root/tests/slurm/cluster.sh"
bin=${INFERENCE_LAB_BIN:-$root/target/debug/inference-lab}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "slurm e2e: $*" >&2; }
fail() {
    say "FAIL: $*"
    exit 1
}
skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        fail "$* (CI=true: Slurm must be available here)"
    fi
    say "SKIPPED: $* (under CI=true this fails)"
    exit 0
}

t0=$(now)
[ -x "$bin" ] || fail "$bin is not built: run cargo build (or cargo test) first"
slurm_install || skip_or_fail "cannot install Slurm"
t_installed=$(now)
work=$(mktemp -d /tmp/inference-lab-slurm-e2e.XXXXXX)
cleanup() {
    slurm_down
    rm -rf "$work"
}
trap cleanup EXIT
slurm_up || skip_or_fail "cannot start Slurm"
t_up=$(now)

checks=0
check() {
    # check DESCRIPTION COMMAND...: runs the command, counts it, fails the script if it fails.
    local what=$1
    shift
    "$@" || fail "$what"
    checks=$((checks + 1))
}

cd "$work"
# 2 policies x 3 request counts x 3 seeds = 18 runs of a tiny config, costs 1 : 3 : 9.
cat >e2e.toml <<EOF
name = "e2e"
base = "$root/tests/fixtures/tiny.toml"
seeds = 3

[axes]
scheduler.policy = ["fcfs", "sif"]
workload.num_requests = [10, 30, 90]
EOF

# runs.csv without the wall_ms column (the fields hold no quoted commas: checked).
strip_wall_ms() {
    if grep -q '"' "$1"; then
        fail "$1 has quoted fields: strip_wall_ms cannot cut it"
    fi
    awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_ms") c = i }
        { out = ""; for (i = 1; i <= NF; i++) if (i != c) out = out (out == "" && i == 1 ? "" : OFS) $i; print out }' "$1"
}
same_tables() {
    cmp -s <(strip_wall_ms "$1/runs.csv") <(strip_wall_ms "$2/runs.csv") &&
        cmp -s "$1/summary.csv" "$2/summary.csv"
}
# The array and merge job ids of the last submission, from results/e2e/slurm/jobs.txt.
last_jobs() {
    local line
    line=$(tail -n 1 results/e2e/slurm/jobs.txt)
    array=$(sed -n 's/.* array=\([0-9]*\) .*/\1/p' <<<"$line")
    merge=$(sed -n 's/.* merge=\([0-9]*\) .*/\1/p' <<<"$line")
    [ -n "$array" ] && [ -n "$merge" ] || fail "no job ids in: $line"
}

say "submitting a 4-task array sweep and its merge job"
t_submit=$(now)
timeout 60 "$bin" sweep e2e.toml --slurm --array-size 4 --submit --format csv -- --time=0:10:00 >submit.out ||
    fail "inference-lab sweep --slurm --submit: $(cat submit.out)"
cat submit.out >&2
check "submit.sh prints how to watch the jobs" grep -q 'squeue -j' submit.out
last_jobs
check "merge job $merge (after array job $array) completes" slurm_wait_job "$merge" 120
check "every task of array job $array completes" slurm_wait_job "$array" 10
t_done=$(now)
res=results/e2e
for k in 0 1 2 3; do
    check "shard $k wrote its journal" test -s "$res/journal.shard-$k-of-4.jsonl"
    check "shard $k logged its summary" grep -q "shard $k/4: " "$res"/slurm/logs/shard-$k.job-*.out
done
check "the merge job logged a complete merge" grep -q 'merged 18 runs over 6 points from 4 journals (18 ok, 0 failed, 0 missing)' "$res"/slurm/logs/merge.job-*.out

t_local=$(now)
timeout 120 "$bin" sweep e2e.toml -o local -j 2 -q --format csv || fail "local sweep"
t_local_done=$(now)
check "merged tables equal a local sweep's (but for wall_ms)" same_tables "$res" local

# A shard whose results were lost: resubmitting runs only that shard, and the merge is whole again.
say "losing shard 2's journal and resubmitting"
rm "$res/journal.shard-2-of-4.jsonl"
timeout 60 "$bin" sweep e2e.toml --slurm --array-size 4 --submit --format csv -- --time=0:10:00 >submit.out ||
    fail "resubmission: $(cat submit.out)"
cat submit.out >&2
last_jobs
check "the resubmission is only shard 2" grep -q "shards=2/4" "$res/slurm/jobs.txt"
check "merge job $merge completes" slurm_wait_job "$merge" 120
check "array job $array completes" slurm_wait_job "$array" 10
check "shard 2 ran again" test -s "$res/journal.shard-2-of-4.jsonl"
check "tables equal the local sweep's again" same_tables "$res" local
t_end=$(now)

say "$checks checks passed in $(secs "$t0" "$t_end") s: install $(secs "$t0" "$t_installed") s, \
start $(secs "$t_installed" "$t_up") s, array + merge $(secs "$t_submit" "$t_done") s, \
local sweep $(secs "$t_local" "$t_local_done") s, resubmit + merge $(secs "$t_local_done" "$t_end") s"

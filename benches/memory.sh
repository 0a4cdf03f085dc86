#!/usr/bin/env bash
# Peak memory of a long run: 10 million closed-loop requests of the debug model
# (configs/debug-closed-loop.toml with num_requests = 10,000,000, the most one run may have).
# Memory must stay flat as requests complete: the metrics keep at most a million samples per
# metric exactly, then a fixed-size histogram; KV-block state grows only with blocks in use.
# Run from the repository root after `cargo build --release`; BIN overrides the binary and
# REQUESTS the request count (for the per-request slope: compare two counts).
set -euo pipefail
bin=${BIN:-target/release/inference-lab}
requests=${REQUESTS:-10000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sed -e "s/^num_requests = .*/num_requests = $requests/" \
    -e "s/^log_interval = .*/log_interval = 100000/" \
    configs/debug-closed-loop.toml > "$work/config.toml"
grep -q "^num_requests = $requests\$" "$work/config.toml"

/usr/bin/time -f "%M %e" -o "$work/time" "$bin" -c "$work/config.toml" -q -o "$work/out.json"
read -r rss_kib wall_s < "$work/time"
completed=$(grep -o '"completed": *[0-9]*' "$work/out.json" | head -1 | grep -o '[0-9]*$')
steps=$(grep -o '"steps": *[0-9]*' "$work/out.json" | head -1 | grep -o '[0-9]*$')
echo "requests completed: $completed of $requests"
echo "engine steps: $steps"
echo "peak RSS: $((rss_kib / 1024)) MiB ($rss_kib KiB)"
echo "wall time: $wall_s s"

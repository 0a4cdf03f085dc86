#!/usr/bin/env bash
# One big fleet run: 32 replicas of the chat engine (configs/fleet-llama3-8b-h100x8.toml with
# 32 replicas) serving 1,000,000 Poisson requests at 360 req/s, least_outstanding routing.
# Prints wall time and peak memory. Run from the repository root after `cargo build
# --release`; BIN overrides the binary, REQUESTS the count, ROUTER the router.
set -euo pipefail
bin=${BIN:-target/release/inference-lab}
requests=${REQUESTS:-1000000}
router=${ROUTER:-least_outstanding}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/time -f "%M %e" -o "$work/time" "$bin" -c configs/fleet-llama3-8b-h100x8.toml -q \
    --set cluster.replicas=32 --set "cluster.router=\"$router\"" \
    --set workload.arrival_rate=360 --set "workload.num_requests=$requests" \
    --set simulation.log_interval=100000 -o "$work/out.json"
read -r rss_kib wall_s < "$work/time"
python3 - "$work/out.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
print(f"requests completed: {m['requests_completed']} of {m['requests_total']}")
print(f"engine steps: {m['steps']}, simulated {m['simulated_s']:.0f} s")
print(f"ttft p50 {m['ttft_ms_p50']:.2f} ms, p99 {m['ttft_ms_p99']:.2f} ms; imbalance {m['replica_request_imbalance']:.3f}")
PY
echo "peak RSS: $((rss_kib / 1024)) MiB"
echo "wall time: $wall_s s"

#!/usr/bin/env bash
# Times the seed documents' way of running a grid (a bash loop of single runs with sed, one
# process and one JSON file per run) against one `inference-lab sweep` of the same 60 runs,
# tables included. Run from the repository root after `cargo build --release`.
set -euo pipefail
bin=${BIN:-target/release/inference-lab}
config=examples/seed-era/config.toml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

loop() {
  for policy in fcfs sof sif lof; do
    for batch in 4096 8192 16384; do
      for seed in 1 2 3 4 5; do
        sed -e "s/^policy = .*/policy = \"$policy\"/" \
            -e "s/^max_num_batched_tokens = .*/max_num_batched_tokens = $batch/" \
            "$config" > "$work/config.toml"
        "$bin" -c "$work/config.toml" --seed "$seed" -q -o "$work/r_${policy}_${batch}_${seed}.json"
      done
    done
  done
}

start=$(date +%s.%N)
loop
mid=$(date +%s.%N)
"$bin" sweep benches/data/reference-60.toml -q --force -o "$work/sweep"
end=$(date +%s.%N)
echo "bash loop of 60 single runs: $(echo "$mid - $start" | bc) s"
echo "one sweep of the same 60 runs (tables included): $(echo "$end - $mid" | bc) s"

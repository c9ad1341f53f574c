#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 600), two at a time.
# Seeds come from real files (tests/fuzz/seeds.sh); findings land in out/fuzz/<target>/ (crash-* files).
# Usage: bash scripts/fuzz.sh [SECONDS] [target ...]      targets: model_file cnn_model safetensors text bpe config tsv hf_json spm pth plan image http
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}; shift || true
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(model_file cnn_model safetensors text bpe config tsv hf_json spm pth plan image http)
bash scripts/setup.sh
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || \
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
CC=clang CXX=clang++ BUILD_DIR=build-fuzz BUILD_TYPE=RelWithDebInfo bash scripts/build.sh \
  -DRMSMP_FUZZ=ON -DRMSMP_BUILD_TESTS=OFF -DRMSMP_BUILD_BENCHMARKS=OFF -DRMSMP_USE_CCACHE=OFF
bash tests/fuzz/seeds.sh out/fuzz
run() {
  local t=$1 dir=out/fuzz/$1 max_len=200000
  [ "$t" = hf_json ] && max_len=600000  # a real tokenizer.json is 466 KB
  mkdir -p "$dir/corpus" "$dir/findings"
  local dict=(); [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")  # structure hints (opcodes)
  ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/tests/fuzz/fuzz_$t "$dir/corpus" "out/fuzz/seeds/$t" "${dict[@]}" \
    -max_total_time="$SECS" -max_len="$max_len" -rss_limit_mb=4096 -artifact_prefix="$dir/findings/" -print_final_stats=1 \
    > "$dir/log.txt" 2>&1 || true
  echo "fuzz_$t: $(grep -E '^stat::number_of_executed_units' "$dir/log.txt" | awk '{print $2}') runs," \
       "$(grep -oE 'cov: [0-9]+' "$dir/log.txt" | tail -1), findings: $(ls "$dir/findings" | wc -l)"
}
i=0
for t in "${TARGETS[@]}"; do
  run "$t" &
  i=$((i + 1)); if [ $((i % 2)) -eq 0 ]; then wait; fi
done
wait

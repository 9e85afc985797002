#!/usr/bin/env bash
# On the GPU machine, beside the published Kernels.Benchmarks (scripts/gpu-bundle.sh puts this script there; the
# machine needs the NVIDIA driver, not .NET):
#   ./gpu-run.sh [OUT_DIR] [more --gpu options]
# 1. --gpu-check: every built-in optimizer's CUDA kernels against its CPU span overload, bit for bit;
# 2. --gpu: the GPU benchmark (AdamW over 1e9 parameters and 1000 tensors x 64K, against a device-to-device copy);
# and writes both, with the machine's description, to one markdown file OUT_DIR/gpu-run-<host>-<UTC time>.md
# (OUT_DIR defaults to ./results). Extra options go to both (each ignores the other's: --device I for both,
# --steps/--seed/--lengths for the check, --elements/--tensors/--iterations for the benchmark, where they replace
# the defaults below), e.g.
#   ./gpu-run.sh results --elements 2e9 --iterations 50
# '--cpu-accelerator' (with small benchmark sizes) runs the whole script on a machine without a GPU, as a test of it.
# KERNELS_BUNDLE=path/to/Kernels.Benchmarks runs another copy of the file. Exit code: the check's (0 passed,
# 1 a mismatch or error, 2 no CUDA device: then nothing is benchmarked), else the benchmark's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exe="${KERNELS_BUNDLE:-$here/Kernels.Benchmarks}"
out="${1:-results}"
if [ $# -gt 0 ]; then shift; fi
# Sizes for an H200 (141 GB HBM3e, ~4.8 TB/s): 1e9 fp32 parameters are 16 GB of AdamW buffers (28 GB moved per step,
# far beyond the 50 MB L2), and the copy that follows needs 2 x 14 GB; 1000 x 64K is a model's worth of small tensors,
# where launch overhead shows. 20 timed iterations; the benchmark reports medians.
defaults=(--elements 1e9 --tensors 1000x65536 --iterations 20)
bench_options=("$@")
for ((i = 0; i < ${#defaults[@]}; i += 2)); do
  given=false
  for option in "$@"; do
    if [ "$option" = "${defaults[i]}" ]; then given=true; fi
  done
  if [ "$given" = false ]; then bench_options+=("${defaults[i]}" "${defaults[i + 1]}"); fi
done

if [ ! -x "$exe" ]; then
  echo "gpu-run: $exe not found or not executable (put this script beside the published Kernels.Benchmarks)" >&2
  exit 2
fi
mkdir -p "$out"
stamp=$(date -u +%Y%m%d-%H%M%S)
file="$out/gpu-run-$(hostname -s 2>/dev/null || echo host)-$stamp.md"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Keeps the program's own output on the terminal while it runs and in a file for the report; its exit code in $rc.
run() {
  local log=$1; shift
  set +e
  "$exe" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
}

{
  echo "# Kernels GPU run, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- Host: $(hostname 2>/dev/null || echo '?'), $(uname -srm)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo '?'), $(nproc 2>/dev/null || echo '?') threads; memory: $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo '?')"
  echo "- Bundle: $exe, $(stat -c %s "$exe") bytes, sha256 $(sha256sum "$exe" | cut -c1-64)"
  echo
  echo "## GPU"
  echo
  echo '```text'
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=index,name,driver_version,compute_cap,memory.total,clocks.max.sm,clocks.max.memory,power.limit --format=csv 2>&1 || true
    echo
    nvidia-smi 2>&1 || true
  else
    echo "nvidia-smi: not found on this machine"
  fi
  echo '```'
} > "$file"

echo "== gpu-run: correctness checks (--gpu-check${*:+ $*})"
run "$work/check.txt" --gpu-check "$@"
check_rc=$rc
{
  echo
  echo "## Correctness: \`--gpu-check${*:+ $*}\` (exit code $check_rc)"
  echo
  grep '^|' "$work/check.txt" || true
  echo
  echo '```text'
  grep -v '^|' "$work/check.txt" | grep -v '^$' | grep -v '^//' || true
  echo '```'
  echo
  echo '<details><summary>Full output</summary>'
  echo
  echo '```text'
  cat "$work/check.txt"
  echo '```'
  echo '</details>'
} >> "$file"

if [ "$check_rc" -eq 2 ]; then
  echo "gpu-run: no CUDA device; nothing benchmarked. Results: $file"
  exit 2
fi

echo "== gpu-run: benchmark (--gpu ${bench_options[*]})"
run "$work/bench.txt" --gpu "${bench_options[@]}"
bench_rc=$rc
{
  echo
  echo "## Benchmark: \`--gpu ${bench_options[*]}\` (exit code $bench_rc)"
  echo
  grep '^|' "$work/bench.txt" || true
  echo
  echo '<details><summary>Full output</summary>'
  echo
  echo '```text'
  cat "$work/bench.txt"
  echo '```'
  echo '</details>'
} >> "$file"

echo "gpu-run: results written to $file"
if [ "$check_rc" -ne 0 ]; then
  exit "$check_rc"
fi
exit "$bench_rc"

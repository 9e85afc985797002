#!/usr/bin/env bash
# Builds the GPU bundle (docs/Gpu.md, "A GPU run in one command"): Benchmarks published self-contained for linux-x64
# as ONE compressed file that needs no .NET on the GPU machine (ILGPU, the runtime and Kernels inside; no TorchSharp,
# no BenchmarkDotNet), with gpu-run.sh copied beside it. Fails if the file is 60 MB (60,000,000 bytes) or more, or if
# anything else lands beside it.
#   scripts/gpu-bundle.sh [OUT_DIR]        (default artifacts/gpu-bundle)
# Then copy OUT_DIR's two files to the GPU machine and run ./gpu-run.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-artifacts/gpu-bundle}"
limit=60000000

# A fresh folder: a file left from an earlier publish must not pass for part of this one.
rm -rf "$out"
dotnet publish Benchmarks -c Release -r linux-x64 -p:GpuBundle=true -o "$out"
cp scripts/gpu-run.sh "$out/gpu-run.sh"
chmod +x "$out/gpu-run.sh" "$out/Kernels.Benchmarks"

others=$(find "$out" -mindepth 1 ! -name Kernels.Benchmarks ! -name gpu-run.sh)
if [ -n "$others" ]; then
  echo "gpu-bundle: the publish left more than one file; only Kernels.Benchmarks should travel:" >&2
  echo "$others" >&2
  exit 1
fi
size=$(stat -c %s "$out/Kernels.Benchmarks")
echo "gpu-bundle: $out/Kernels.Benchmarks is $size bytes ($((size / 1000000)) MB; limit $((limit / 1000000)) MB)"
if [ "$size" -ge "$limit" ]; then
  echo "gpu-bundle: over the limit" >&2
  exit 1
fi

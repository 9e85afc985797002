#!/usr/bin/env bash
# Package smoke test: pack Kernels and Kernels.Gpu into a temporary feed, then, in a fresh `dotnet new console`
# project outside the repository that references ONLY the Kernels package:
#   - declare its own [UpdateRule] (the packaged generator must run) and call its span overload,
#   - call the built-in Kernels.Optimizers.AdamW.Step span overload and compare it with the scalar rule,
#   - build and run it, and fail if ILGPU.dll (or any ILGPU reference) reaches its output folder.
# Then a second console project referencing Kernels.Gpu runs AdamW.Step(stream, …) on ILGPU's CPU accelerator
# (the launchers generated into Kernels.Gpu from Kernels.dll's rule plans) against the span overload.
# A third console project references Kernels.TorchSharp and TorchSharp-cpu and trains a small model with
# KernelsOptim.AdamW driven by TorchSharp's StepLR.
# Any failure fails the run. Packages resolve into a private packages folder, so a stale Kernels 0.1.0 in the
# machine's NuGet cache can never be tested instead of the one just packed.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
repo=$PWD
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
feed=$work/feed
start=$SECONDS

fail() { echo "package smoke test FAILED: $*" >&2; exit 1; }
# Runs a command quietly; on failure prints its output and fails with the given message.
quiet() { local what=$1; shift; "$@" > "$work/step.log" 2>&1 || { cat "$work/step.log" >&2; fail "$what"; }; }

echo "== Packing Kernels and Kernels.Gpu $version into $feed"
quiet "dotnet pack Runtime" dotnet pack Runtime/Kernels.Runtime.csproj -c Release -o "$feed" --nologo
quiet "dotnet pack Gpu" dotnet pack Gpu/Kernels.Gpu.csproj -c Release -o "$feed" --nologo
quiet "dotnet pack TorchSharp" dotnet pack TorchSharp/Kernels.TorchSharp.csproj -c Release -o "$feed" --nologo
for f in Kernels.$version.nupkg Kernels.$version.snupkg Kernels.Gpu.$version.nupkg Kernels.Gpu.$version.snupkg Kernels.TorchSharp.$version.nupkg; do
  [ -f "$feed/$f" ] || fail "$f was not produced"
done

# Package contents: the generator as an analyzer, README, license expression; Kernels has no ILGPU dependency,
# Kernels.Gpu depends on Kernels and ILGPU.
python3 - "$feed" "$version" <<'EOF'
import sys, zipfile, re
feed, version = sys.argv[1], sys.argv[2]
def nuspec(z):
    name = next(n for n in z.namelist() if n.endswith('.nuspec'))
    return z.read(name).decode('utf-8')
def check(cond, message):
    if not cond:
        sys.exit('package smoke test FAILED: ' + message)
with zipfile.ZipFile(f'{feed}/Kernels.{version}.nupkg') as z:
    names, spec = z.namelist(), nuspec(z)
    check('lib/net10.0/Kernels.dll' in names, 'Kernels: no lib/net10.0/Kernels.dll')
    check('analyzers/dotnet/cs/Kernels.Generator.dll' in names, 'Kernels: generator missing under analyzers/dotnet/cs')
    check('README.md' in names and '<readme>README.md</readme>' in spec, 'Kernels: no README')
    check(re.search(r'<license type="expression">[^<]+</license>', spec), 'Kernels: no license expression')
    check('<dependency id="ILGPU"' not in spec, 'Kernels depends on ILGPU')
with zipfile.ZipFile(f'{feed}/Kernels.Gpu.{version}.nupkg') as z:
    names, spec = z.namelist(), nuspec(z)
    check('lib/net10.0/Kernels.Gpu.dll' in names, 'Kernels.Gpu: no lib/net10.0/Kernels.Gpu.dll')
    check('README.md' in names and '<readme>README.md</readme>' in spec, 'Kernels.Gpu: no README')
    check(re.search(r'<license type="expression">[^<]+</license>', spec), 'Kernels.Gpu: no license expression')
    check(re.search(r'<dependency id="Kernels" version="' + re.escape(version), spec), 'Kernels.Gpu does not depend on Kernels ' + version)
    check(re.search(r'<dependency id="ILGPU" version="1\.5\.3', spec), 'Kernels.Gpu does not depend on ILGPU 1.5.3')
    check(not any(n.startswith('analyzers/') for n in names), 'Kernels.Gpu carries an analyzer (the Kernels package does)')
with zipfile.ZipFile(f'{feed}/Kernels.TorchSharp.{version}.nupkg') as z:
    names, spec = z.namelist(), nuspec(z)
    check('lib/net10.0/Kernels.TorchSharp.dll' in names, 'Kernels.TorchSharp: no lib/net10.0/Kernels.TorchSharp.dll')
    check('README.md' in names and '<readme>README.md</readme>' in spec, 'Kernels.TorchSharp: no README')
    check(re.search(r'<dependency id="Kernels" version="' + re.escape(version), spec), 'Kernels.TorchSharp does not depend on Kernels ' + version)
    check(re.search(r'<dependency id="TorchSharp" version="0\.107\.0', spec), 'Kernels.TorchSharp does not depend on TorchSharp 0.107.0')
    check('TorchSharp-cpu' not in spec and 'libtorch' not in spec, 'Kernels.TorchSharp chooses the native libtorch for its consumer')
    check(not any(n.startswith('analyzers/') for n in names), 'Kernels.TorchSharp carries an analyzer (the Kernels package does)')
print('packages: contents ok')
EOF

# nuget.config: the temporary feed for Kernels*, and the machine's own enabled sources for everything else.
sources=$(cd "$work" && dotnet nuget list source --format short | awk '$1 ~ /^E/ { print $2 }')
write_config() {
  {
    echo '<?xml version="1.0" encoding="utf-8"?>'
    echo '<configuration>'
    echo '  <config><add key="globalPackagesFolder" value="'"$work"'/packages" /></config>'
    echo '  <packageSources>'
    echo '    <clear />'
    echo '    <add key="smoke-feed" value="'"$feed"'" />'
    i=0
    for s in $sources; do i=$((i + 1)); echo '    <add key="machine'"$i"'" value="'"$s"'" />'; done
    echo '  </packageSources>'
    echo '  <packageSourceMapping>'
    echo '    <packageSource key="smoke-feed"><package pattern="Kernels" /><package pattern="Kernels.*" /></packageSource>'
    i=0
    for s in $sources; do i=$((i + 1)); echo '    <packageSource key="machine'"$i"'"><package pattern="*" /></packageSource>'; done
    echo '  </packageSourceMapping>'
    echo '</configuration>'
  } > "$1/nuget.config"
}

echo "== CPU-only consumer (package Kernels only)"
app=$work/CpuApp
quiet "dotnet new console" dotnet new console -o "$app" -n CpuApp --framework net10.0 --no-restore
write_config "$app"
quiet "dotnet add package Kernels" dotnet add "$app/CpuApp.csproj" package Kernels --version "$version"
cat > "$app/Program.cs" <<'EOF'
using System;
using Kernels;
using Kernels.Optimizers;

const int n = 4099;
var random = new Random(42);
float[] param = new float[n], grad = new float[n], expAvg = new float[n], expAvgSq = new float[n];
for (int i = 0; i < n; i++)
{
    param[i] = (float)(random.NextDouble() * 2 - 1);
    grad[i] = (float)(random.NextDouble() * 2 - 1);
}
float[] p0 = (float[])param.Clone(), m0 = new float[n], v0 = new float[n], none = new float[1];

// The built-in's span overload (fused SIMD loop) against its scalar rule, element by element: bit-identical.
AdamW.Step(param, grad, expAvg, expAvgSq, default, step: 1, lr: 1e-2);
for (int i = 0; i < n; i++)
{
    AdamW.Step(ref p0[i], in grad[i], ref m0[i], ref v0[i], ref none[0], step: 1, lr: 1e-2);
    if (BitConverter.SingleToInt32Bits(p0[i]) != BitConverter.SingleToInt32Bits(param[i]) || m0[i] != expAvg[i] || v0[i] != expAvgSq[i])
    {
        Console.WriteLine($"AdamW mismatch at {i}: {param[i]} vs {p0[i]}");
        return 1;
    }
}

// This project's own rule: the packaged generator made its span overload.
float[] p = new float[n], g = new float[n], q = new float[n];
for (int i = 0; i < n; i++)
{
    p[i] = q[i] = i * 0.25f;
    g[i] = 1 - i % 3;
}
SmokeRules.ScaledStep(p, g, lr: 0.5f);
for (int i = 0; i < n; i++)
{
    SmokeRules.ScaledStep(ref q[i], in g[i], lr: 0.5f);
    if (p[i] != q[i])
    {
        Console.WriteLine($"ScaledStep mismatch at {i}: {p[i]} vs {q[i]}");
        return 1;
    }
}
Console.WriteLine("cpu consumer: ok");
return 0;

public static partial class SmokeRules
{
    [UpdateRule]
    public static void ScaledStep(ref float param, in float grad, float lr = 0.1f)
    {
        float update = grad > 0 ? lr * grad : 0.5f * lr * grad;
        param -= update;
    }
}
EOF
quiet "the CPU consumer does not build" dotnet build "$app/CpuApp.csproj" -c Release --nologo -p:TreatWarningsAsErrors=true
out=$app/bin/Release/net10.0
dotnet "$out/CpuApp.dll" | tee "$work/cpu.txt"
grep -q "cpu consumer: ok" "$work/cpu.txt" || fail "the CPU consumer's results are wrong"
if ls "$out" | grep -qi '^ILGPU'; then fail "ILGPU reached the CPU consumer's output folder: $(ls "$out" | grep -i '^ILGPU' | tr '\n' ' ')"; fi
if grep -qi 'ILGPU' "$out/CpuApp.deps.json"; then fail "the CPU consumer's deps.json references ILGPU"; fi
echo "cpu consumer: no ILGPU in $out"

echo "== GPU consumer (package Kernels.Gpu, ILGPU's CPU accelerator)"
gpuapp=$work/GpuApp
quiet "dotnet new console" dotnet new console -o "$gpuapp" -n GpuApp --framework net10.0 --no-restore
write_config "$gpuapp"
quiet "dotnet add package Kernels.Gpu" dotnet add "$gpuapp/GpuApp.csproj" package Kernels.Gpu --version "$version"
cat > "$gpuapp/Program.cs" <<'EOF'
using System;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Kernels.Optimizers;

const int n = 1000;
var random = new Random(7);
float[] param = new float[n], grad = new float[n];
for (int i = 0; i < n; i++)
{
    param[i] = (float)(random.NextDouble() * 2 - 1);
    grad[i] = (float)(random.NextDouble() * 2 - 1);
}
float[] cpuParam = (float[])param.Clone(), cpuM = new float[n], cpuV = new float[n];
AdamW.Step(cpuParam, grad, cpuM, cpuV, default, step: 3, lr: 1e-2);

using var context = Context.Create(b => b.CPU());
using var accelerator = context.CreateCPUAccelerator(0);
using var p = accelerator.Allocate1D(param);
using var g = accelerator.Allocate1D(grad);
using var m = accelerator.Allocate1D<float>(n);
using var v = accelerator.Allocate1D<float>(n);
m.MemSetToZero();
v.MemSetToZero();
// The built-in's GPU launcher: a static extension member of AdamW, generated into Kernels.Gpu.
AdamW.Step(accelerator.DefaultStream, p.View, g.View, m.View, v.View, default, step: 3, lr: 1e-2);
accelerator.Synchronize();
float[] gpuParam = p.GetAsArray1D();
for (int i = 0; i < n; i++)
{
    if (BitConverter.SingleToInt32Bits(gpuParam[i]) != BitConverter.SingleToInt32Bits(cpuParam[i]))
    {
        Console.WriteLine($"AdamW GPU mismatch at {i}: {gpuParam[i]} vs {cpuParam[i]}");
        return 1;
    }
}
Console.WriteLine("gpu consumer: ok");
return 0;
EOF
quiet "the GPU consumer does not build" dotnet build "$gpuapp/GpuApp.csproj" -c Release --nologo -p:TreatWarningsAsErrors=true
dotnet "$gpuapp/bin/Release/net10.0/GpuApp.dll" | tee "$work/gpu.txt"
grep -q "gpu consumer: ok" "$work/gpu.txt" || fail "the GPU consumer's results are wrong"

echo "== TorchSharp consumer (packages Kernels.TorchSharp and TorchSharp-cpu)"
tsapp=$work/TorchApp
quiet "dotnet new console" dotnet new console -o "$tsapp" -n TorchApp --framework net10.0 --no-restore
write_config "$tsapp"
# TorchSharp-cpu brings libtorch (about 600 MB unpacked): taken from the machine's own package folder (where the
# solution's restore put it) as a local source, rather than downloaded again into the private one.
cache=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')
sed -i 's#    <add key="smoke-feed" value="'"$feed"'" />#&\n    <add key="machine-cache" value="'"$cache"'" />#' "$tsapp/nuget.config"
sed -i 's#  </packageSourceMapping>#    <packageSource key="machine-cache"><package pattern="TorchSharp*" /><package pattern="libtorch-cpu*" /></packageSource>\n&#' "$tsapp/nuget.config"
quiet "dotnet add package Kernels.TorchSharp" dotnet add "$tsapp/TorchApp.csproj" package Kernels.TorchSharp --version "$version"
quiet "dotnet add package TorchSharp-cpu" dotnet add "$tsapp/TorchApp.csproj" package TorchSharp-cpu --version 0.107.0
# libLibTorchSharp.so needs GLIBCXX_3.4.32, which Debian 12 lacks: the repository's patch, as its own projects use it.
sed -i 's#</Project>#  <Import Project="'"$repo"'/build/TorchSharpNativeFix.targets" />\n</Project>#' "$tsapp/TorchApp.csproj"
cat > "$tsapp/Program.cs" <<'EOF'
using System;
using System.Linq;
using Kernels.Torch;
using TorchSharp;
using static TorchSharp.torch;

torch.manual_seed(3);
var model = nn.Sequential(("fc1", nn.Linear(8, 16)), ("act", nn.ReLU()), ("fc2", nn.Linear(16, 1)));
var x = torch.rand(64, 8);
var y = x.sum(1, keepdim: true);
// The one changed line against torch.optim.AdamW, and TorchSharp's own scheduler driving it.
var optimizer = KernelsOptim.AdamW(model.parameters(), lr: 1e-2, weight_decay: 0.01);
var scheduler = optim.lr_scheduler.StepLR(optimizer, step_size: 50, gamma: 0.5);
float first = 0, last = 0;
for (int step = 0; step < 200; step++)
{
    optimizer.zero_grad();
    using var scope = NewDisposeScope();
    var loss = nn.functional.mse_loss(model.forward(x), y);
    loss.backward();
    optimizer.step();
    scheduler.step();
    last = loss.item<float>();
    if (step == 0)
        first = last;
}
double lr = optimizer.ParamGroups.Single().LearningRate;
Console.WriteLine($"loss {first} -> {last}, lr {lr}");
if (!(last < first / 10) || Math.Abs(lr - 1e-2 / 16) > 1e-12)
    return 1;
Console.WriteLine("torchsharp consumer: ok");
return 0;
EOF
quiet "the TorchSharp consumer does not build" dotnet build "$tsapp/TorchApp.csproj" -c Release --nologo -p:TreatWarningsAsErrors=true
dotnet "$tsapp/bin/Release/net10.0/TorchApp.dll" | tee "$work/torch.txt"
grep -q "torchsharp consumer: ok" "$work/torch.txt" || fail "the TorchSharp consumer's results are wrong"

echo "package smoke test: ok ($((SECONDS - start)) s)"

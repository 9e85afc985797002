using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Runtime.Cuda;
using Kernels.Gpu;
using Kernels.Tests.Gpu.Harness;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Gpu;

/// <summary>
/// Every kernel compiled to PTX for sm_90 (ILGPU's PTX backend needs no GPU), exactly as the loader hands it to
/// CUDA: a rule that cannot run on CUDA fails here, not on a user's first GPU run. The PTX is written to
/// <c>ptx/</c> beside the test assembly, and a summary of its memory accesses and registers to the test output.
/// </summary>
public sealed class PtxTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly CpuAcceleratorFixture _fixture;
    private readonly ITestOutputHelper _output;

    public PtxTests(CpuAcceleratorFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    [Fact]
    public void Loader_can_hand_cuda_the_strict_ptx() => Assert.True(GpuKernels.CanLoadStrictPtx);

    [Fact]
    public void Strict_ptx_rounds_every_float_add_sub_and_mul()
    {
        const string ptx = "\tadd.f32\t%f1, %f2, %f3;\n\tmul.f64\t%fd1, %fd2, %fd3;\n\tsub.f32 %f4, %f5, %f6;\n\tadd.u64\t%rd1, %rd2, %rd3;\n\tfma.rn.f32 %f7, %f1, %f2, %f3;\n\tmul.wide.u32\t%rd4, %r1, 4;\n";
        string strict = GpuKernels.StrictPtx(ptx);
        Assert.Contains("add.rn.f32", strict);
        Assert.Contains("mul.rn.f64", strict);
        Assert.Contains("sub.rn.f32", strict);
        Assert.Contains("add.u64", strict);
        Assert.Contains("mul.wide.u32", strict);
        Assert.Contains("fma.rn.f32", strict);
    }

    [Theory]
    [MemberData(nameof(BuiltInRule.AllNames), MemberType = typeof(BuiltInRule))]
    public void Kernels_compile_to_ptx_for_sm_90(string name)
    {
        BuiltInRule rule = BuiltInRule.Named(name);
        foreach (var kernel in new[] { rule.Kernel, rule.MultiTensorKernel })
        {
            string ptx = GpuKernels.CompileToPtx(_fixture.Context, kernel, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);
            string file = Path.Combine(AppContext.BaseDirectory, "ptx", $"{rule.Name}.{kernel.Name}.ptx");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, ptx);

            Assert.Contains(".entry", ptx);
            // Everything resolved inside the module: no call to a function CUDA would have to link.
            Assert.DoesNotContain(".extern", ptx);
            // No contractible float arithmetic: the GPU rounds where the CPU does.
            Assert.DoesNotMatch(new Regex(@"(?<![\w.])(add|sub|mul)\.f(32|64)(?![\w.])"), ptx);
            Assert.Matches(new Regex(@"\bld\.global\."), ptx);
            Assert.Matches(new Regex(@"\bst\.global\."), ptx);
            if (SourceOf(rule) is { } source && File.ReadAllText(source).Contains("FusedMultiplyAdd"))
                Assert.Contains("fma.rn.f", ptx);

            _output.WriteLine($"{rule.Name}.{kernel.Name}: {Summary(ptx)}");
        }
    }

    /// <summary>The built-ins with GPU storage launchers (every float rule without reductions).</summary>
    public static TheoryData<string> StorageRuleNames()
    {
        var data = new TheoryData<string>();
        foreach (BuiltInRule rule in BuiltInRule.BuiltIns.Concat(BuiltInRule.TestRules).Where(r => r.GpuClass.GetMethod("StorageKernel") is not null))
            data.Add(rule.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(StorageRuleNames))]
    public void Storage_kernels_compile_to_ptx_for_sm_90(string name)
    {
        BuiltInRule rule = BuiltInRule.Named(name);
        System.Reflection.MethodInfo storage = rule.GpuClass.GetMethod("StorageKernel")!;
        int groups = storage.GetGenericArguments().Length / 2;
        Type[][] combinations =
        {
            new[] { typeof(Kernels.Precision.BFloat16), typeof(Kernels.Precision.BFloat16), typeof(float) },
            new[] { typeof(System.Half), typeof(System.Half), typeof(System.Half) },
            new[] { typeof(float), typeof(Kernels.Precision.BFloat16), typeof(System.Half) },
        };
        foreach ((System.Reflection.MethodInfo definition, Type[] types) in combinations.Select(t => (storage, t)).Append((rule.GpuClass.GetMethod("MultiTensorStorageKernel")!, combinations[0])))
        {
            System.Reflection.MethodInfo kernel = GpuStorage.Instantiate(definition, types.Take(groups).ToArray());
            string ptx = GpuKernels.CompileToPtx(_fixture.Context, kernel, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);
            string label = string.Join("-", types.Take(groups).Select(t => t.Name));
            string file = Path.Combine(AppContext.BaseDirectory, "ptx", $"{rule.Name}.{definition.Name}.{label}.ptx");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, ptx);

            Assert.Contains(".entry", ptx);
            Assert.DoesNotContain(".extern", ptx);
            Assert.DoesNotMatch(new Regex(@"(?<![\w.])(add|sub|mul)\.f(32|64)(?![\w.])"), ptx);
            // 16-bit views are read and written 2 bytes at a time, float views 4.
            if (types.Take(groups).Any(t => t != typeof(float)))
                Assert.Matches(new Regex(@"\bld\.global\.(u|b)16\b"), ptx);
            _output.WriteLine($"{rule.Name}.{definition.Name}<{label}>: {Summary(ptx)}");
        }
    }

    [Fact]
    public void Reduction_kernels_compile_to_self_contained_strict_ptx()
    {
        // A rule with reductions: its reduction and update kernels (generated), and the runtime's combination kernels.
        Type gpu = typeof(Rules.ReductionGpuRules).GetNestedTypes(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)
            .Single(t => t.Name == "TrustRatioGpu");
        foreach (System.Reflection.MethodInfo kernel in new[]
        {
            gpu.GetMethod("ReductionKernel")!, gpu.GetMethod("UpdateKernel")!,
            typeof(GpuReductions).GetMethod(nameof(GpuReductions.BlockKernel))!, typeof(GpuReductions).GetMethod(nameof(GpuReductions.FinalKernel))!,
        })
        {
            string ptx = GpuKernels.CompileToPtx(_fixture.Context, kernel, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);
            Assert.Contains(".entry", ptx);
            Assert.DoesNotContain(".extern", ptx);
            Assert.DoesNotMatch(new Regex(@"(?<![\w.])(add|sub|mul)\.f(32|64)(?![\w.])"), ptx);
            _output.WriteLine($"{gpu.Name}.{kernel.Name}: {Summary(ptx)}");
        }
    }

    /// <summary>Memory accesses, vector widths and the virtual registers ILGPU declares (ptxas allocates the real ones).</summary>
    public static string Summary(string ptx)
    {
        int Count(string pattern) => Regex.Matches(ptx, pattern).Count;
        string registers = string.Join(" ", Regex.Matches(ptx, @"\.reg\s+\.(\w+)\s+%(\w+)<(\d+)>").Select(m => $"{m.Groups[2].Value}:{m.Groups[3].Value}"));
        string local = Regex.Match(ptx, @"__local_depot\d*\[(\d+)\]") is { Success: true } m2 ? m2.Groups[1].Value + " B" : "none";
        return $"ld.global {Count(@"\bld\.global\.")} (v2 {Count(@"\bld\.global\.v2")}, v4 {Count(@"\bld\.global\.v4")}), " +
            $"st.global {Count(@"\bst\.global\.")} (v4 {Count(@"\bst\.global\.v4")}), generic ld/st {Count(@"\b(ld|st)\.(f|b|u|s)\d+")}, " +
            $"fma.rn {Count(@"\bfma\.rn\.")}, div.rn {Count(@"\bdiv\.rn\.")}, sqrt.rn {Count(@"\bsqrt\.rn\.")}, local depot {local}, registers {registers}";
    }

    /// <summary>The built-in's source file (null for the test rules).</summary>
    private static string? SourceOf(BuiltInRule rule)
    {
        string builtIn = Path.Combine(RepositoryRoot(), "Runtime", "Optimizers", rule.Owner.Name + ".cs");
        return rule.Owner.Namespace == "Kernels.Optimizers" && File.Exists(builtIn) ? builtIn : null;
    }

    public static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Kernels.sln not found above " + AppContext.BaseDirectory);
    }
}

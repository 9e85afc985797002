using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Kernels.Gpu;
using Kernels.Matrices;
using Kernels.Optimizers;
using Kernels.Tests.Gpu.Harness;
using Kernels.Training;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Gpu;

/// <summary>
/// The GPU GEMM, Newton–Schulz and Muon step on ILGPU's CPU accelerator against the CPU code (the managed GEMM,
/// <c>NewtonSchulz</c>, <c>Muon.Optimizer</c>). Tolerance: none against the managed backend — the GPU GEMM sums every
/// element in the managed kernel's order with the same fused multiply-adds, and the CPU accelerator runs the kernels as
/// .NET code, so any difference is a bug (the Frobenius norm is summed in chunks of 4096 on the GPU; matrices this size
/// have 4 to 23 chunks, and the double sums' last-place differences did not change the float norm here). Against
/// OpenBLAS, which sums in another order: relative Frobenius difference below 1e-5 (both are within about 2e-6 of a
/// double-precision iteration, docs/Muon.md).
/// </summary>
public sealed class MuonGpuTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly CpuAcceleratorFixture _fixture;
    private readonly Accelerator _accelerator;
    private readonly ITestOutputHelper _output;

    public MuonGpuTests(CpuAcceleratorFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _accelerator = fixture.Accelerator;
        _output = output;
    }

    private static float[] Uniform(int length, int seed)
    {
        var values = new float[length];
        uint s = (uint)seed;
        for (int i = 0; i < length; i++)
        {
            s = s * 1664525u + 1013904223u;
            values[i] = (int)s / 2147483648f;
        }
        return values;
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i}: CPU {expected[i]:R}, GPU kernel {actual[i]:R}");
        }
    }

    private static T WithManagedGemm<T>(Func<T> run)
    {
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = true;
        try
        {
            return run();
        }
        finally
        {
            Gemm.ForceManaged = saved;
        }
    }

    [Theory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(7, 13, 300, false, false)]   // k crosses a block of 256
    [InlineData(33, 17, 513, true, false)]
    [InlineData(5, 40, 257, false, true)]
    [InlineData(19, 3, 600, true, true)]
    [InlineData(6, 32, 256, false, false)]
    public void Gemm_IsBitIdenticalToTheManagedKernel(int m, int n, int k, bool transposeA, bool transposeB)
    {
        // Padded strides, alpha and beta not 1, C read (beta) and not read (beta = 0 over NaN).
        int lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 1, ldc = n + 2;
        float[] a = Uniform((transposeA ? k : m) * lda, m * 7 + k);
        float[] b = Uniform((transposeB ? n : k) * ldb, n * 11 + k);
        foreach ((float alpha, float beta) in new[] { (1f, 0f), (-0.75f, 1.5f), (2.0315f, -4.775f), (1f, 1f) })
        {
            float[] c = Uniform(m * ldc, m + n);
            if (beta == 0)
                Array.Fill(c, float.NaN);
            float[] expected = (float[])c.Clone();
            Gemm.Multiply(GemmBackend.Managed, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);

            using var da = _accelerator.Allocate1D(a);
            using var db = _accelerator.Allocate1D(b);
            using var dc = _accelerator.Allocate1D(c);
            GpuGemm.Multiply(_accelerator.DefaultStream, transposeA, transposeB, m, n, k, alpha, da.View, lda, db.View, ldb, beta, dc.View, ldc);
            _accelerator.Synchronize();
            AssertBits(expected, dc.GetAsArray1D(), $"{m}x{n}x{k} ({transposeA}, {transposeB}), alpha {alpha}, beta {beta}");
        }
    }

    /// <summary>
    /// The four kernels compile to PTX for sm_90 as the loader hands them to CUDA (no GPU needed): nothing external, no
    /// contractible float instruction, the GEMM's sums as <c>fma.rn.f32</c>. (Whether they run correctly and how fast
    /// on a real GPU is not measured: docs/Gpu.md.)
    /// </summary>
    [Theory]
    [InlineData(typeof(GpuGemm), nameof(GpuGemm.Kernel))]
    [InlineData(typeof(GpuNewtonSchulz), nameof(GpuNewtonSchulz.SumSquaresKernel))]
    [InlineData(typeof(GpuNewtonSchulz), nameof(GpuNewtonSchulz.NormKernel))]
    [InlineData(typeof(GpuNewtonSchulz), nameof(GpuNewtonSchulz.ScaleKernel))]
    public void Kernels_compile_to_strict_ptx_for_sm_90(Type type, string name)
    {
        MethodInfo kernel = type.GetMethod(name)!;
        string ptx = GpuKernels.CompileToPtx(_fixture.Context, kernel, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);
        Assert.Contains(".entry", ptx);
        Assert.DoesNotContain(".extern", ptx);
        Assert.DoesNotMatch(new Regex(@"(?<![\w.])(add|sub|mul)\.f(32|64)(?![\w.])"), ptx);
        if (type == typeof(GpuGemm))
            Assert.Contains("fma.rn.f32", ptx);
        _output.WriteLine($"{type.Name}.{name}: {PtxTests.Summary(ptx)}");
    }

    [Fact]
    public void Gemm_ChecksItsArguments()
    {
        using var a = _accelerator.Allocate1D<float>(12);
        using var c = _accelerator.Allocate1D<float>(12);
        AcceleratorStream stream = _accelerator.DefaultStream;
        Assert.Throws<ArgumentException>("a", () => GpuGemm.Multiply(stream, false, false, 4, 3, 4, 1, a.View, 4, c.View, 3, 0, c.View, 3));
        Assert.Throws<ArgumentOutOfRangeException>("ldc", () => GpuGemm.Multiply(stream, false, false, 3, 4, 1, 1, a.View, 1, a.View, 4, 0, c.View, 3));
        Assert.Throws<ArgumentException>("c", () => GpuGemm.Multiply(stream, false, false, 3, 4, 1, 1, a.View, 1, a.View, 4, 0, a.View, 4));
    }

    [Theory]
    [InlineData(64, 256, NewtonSchulzPrecision.Float32)]
    [InlineData(256, 64, NewtonSchulzPrecision.Float32)]
    [InlineData(300, 300, NewtonSchulzPrecision.Float32)]
    [InlineData(64, 256, NewtonSchulzPrecision.BFloat16)]
    [InlineData(256, 64, NewtonSchulzPrecision.BFloat16)]
    [InlineData(300, 300, NewtonSchulzPrecision.BFloat16)]
    public void NewtonSchulz_IsBitIdenticalToTheCpuIteration_OnTheManagedGemm(int rows, int cols, NewtonSchulzPrecision precision)
    {
        float[] g = Uniform(rows * cols, rows * 1000 + cols);
        float[] expected = WithManagedGemm(() =>
        {
            var o = new float[g.Length];
            NewtonSchulz.Orthogonalize(g, o, rows, cols, precision: precision);
            return o;
        });

        using var device = _accelerator.Allocate1D(g);
        using var result = _accelerator.Allocate1D<float>(g.Length);
        using var ns = new GpuNewtonSchulz(_accelerator);
        ns.Orthogonalize(_accelerator.DefaultStream, device.View, result.View, rows, cols, precision: precision);
        _accelerator.Synchronize();
        float[] actual = result.GetAsArray1D();
        AssertBits(expected, actual, $"{rows}x{cols} {precision}");

        // In place, and again with the same workspace: the same bits.
        ns.Orthogonalize(_accelerator.DefaultStream, device.View, device.View, rows, cols, precision: precision);
        _accelerator.Synchronize();
        AssertBits(expected, device.GetAsArray1D(), $"{rows}x{cols} {precision}, in place");

        if (precision == NewtonSchulzPrecision.Float32 && Gemm.IsOpenBlasAvailable)
        {
            var openBlas = new float[g.Length];
            bool saved = Gemm.ForceManaged;
            Gemm.ForceManaged = false;
            try
            {
                NewtonSchulz.Orthogonalize(g, openBlas, rows, cols);
            }
            finally
            {
                Gemm.ForceManaged = saved;
            }
            double diff = Math.Sqrt(actual.Zip(openBlas, (x, y) => (double)(x - y) * (x - y)).Sum());
            double norm = Math.Sqrt(openBlas.Sum(v => (double)v * v));
            _output.WriteLine($"{rows}x{cols}: GPU kernel vs CPU on OpenBLAS: relative Frobenius difference {diff / norm:E2}");
            Assert.True(diff / norm < 1e-5, $"relative difference {diff / norm}");
        }
    }

    [Fact]
    public void NewtonSchulz_ZeroMatrix_ZeroSteps_AndArguments()
    {
        using var ns = new GpuNewtonSchulz(_accelerator);
        AcceleratorStream stream = _accelerator.DefaultStream;
        using var zero = _accelerator.Allocate1D(new float[12]);   // Allocate1D<T>(n) does not clear the memory
        using var o = _accelerator.Allocate1D(Enumerable.Repeat(float.NaN, 12).ToArray());
        ns.Orthogonalize(stream, zero.View, o.View, 3, 4);
        _accelerator.Synchronize();
        Assert.All(o.GetAsArray1D(), v => Assert.Equal(0f, v));

        using var g = _accelerator.Allocate1D(new float[] { 3, 0, 0, 4 });
        using var o4 = _accelerator.Allocate1D<float>(4);
        ns.Orthogonalize(stream, g.View, o4.View, 2, 2, steps: 0);
        _accelerator.Synchronize();
        Assert.Equal(new[] { 0.6f, 0f, 0f, 0.8f }, o4.GetAsArray1D());

        Assert.Throws<ArgumentOutOfRangeException>("steps", () => ns.Orthogonalize(stream, zero.View, o.View, 3, 4, steps: 100));
        Assert.Throws<ArgumentException>("matrix", () => ns.Orthogonalize(stream, zero.View, o.View, 3, 3));
        Assert.Throws<ArgumentException>("result", () => ns.Orthogonalize(stream, zero.View.SubView(0, 6), zero.View.SubView(3, 6), 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>("precision", () => ns.Orthogonalize(stream, zero.View, o.View, 3, 4, precision: (NewtonSchulzPrecision)7));
    }

    [Theory]
    [InlineData(false, NewtonSchulzPrecision.Float32)]
    [InlineData(true, NewtonSchulzPrecision.BFloat16)]
    public void MuonStep_IsBitIdenticalToTheCpuOptimizer(bool nonDefault, NewtonSchulzPrecision precision)
    {
        int[][] shapes = { new[] { 64, 256 }, new[] { 256, 64 }, new[] { 300, 300 } };
        double lr = nonDefault ? 0.02 : 1e-3, wd = nonDefault ? 0.01 : 0.1, momentum = nonDefault ? 0.9 : 0.95;
        bool nesterov = !nonDefault;
        Muon.LrAdjustment adjust = nonDefault ? Muon.LrAdjustment.MatchRmsAdamW : Muon.LrAdjustment.Original;

        var cpu = shapes.Select((s, k) =>
        {
            var p = new Parameter<float>("w" + k, s);
            Uniform(p.Length, 17 + k).CopyTo(p.Data.Span);
            return p;
        }).ToList();
        var optimizer = new Muon.Optimizer(cpu, lr: lr, weightDecay: wd, momentum: momentum, nesterov: nesterov, adjustLrFn: adjust,
            nsPrecision: precision);

        var buffers = new List<(MemoryBuffer1D<float, Stride1D.Dense> P, MemoryBuffer1D<float, Stride1D.Dense> G, MemoryBuffer1D<float, Stride1D.Dense> M)>();
        foreach (Parameter<float> p in cpu)
            buffers.Add((_accelerator.Allocate1D(p.Data.ToArray()), _accelerator.Allocate1D<float>(p.Length), _accelerator.Allocate1D(new float[p.Length])));   // momentum buffer: zeros
        using var muon = new GpuMuon(_accelerator);
        try
        {
            for (int step = 1; step <= 2; step++)
            {
                for (int k = 0; k < cpu.Count; k++)
                {
                    float[] grad = Uniform(cpu[k].Length, step * 100 + k);
                    grad.CopyTo(cpu[k].Grad.Span);
                    buffers[k].G.CopyFromCPU(grad);
                    muon.Step(_accelerator.DefaultStream, buffers[k].P.View, buffers[k].G.View, buffers[k].M.View, shapes[k][0], shapes[k][1],
                        lr, wd, momentum, nesterov, eps: NewtonSchulz.DefaultEps, adjustLrFn: adjust, nsPrecision: precision);
                }
                WithManagedGemm(() =>
                {
                    optimizer.Step();
                    return 0;
                });
                _accelerator.Synchronize();
                OptimizerStateDict state = optimizer.StateDict();
                for (int k = 0; k < cpu.Count; k++)
                {
                    AssertBits(cpu[k].Data.ToArray(), buffers[k].P.GetAsArray1D(), $"step {step}, {shapes[k][0]}x{shapes[k][1]}, parameter");
                    AssertBits((float[])state.State[k]!.Buffers["momentumBuffer"], buffers[k].M.GetAsArray1D(), $"step {step}, {shapes[k][0]}x{shapes[k][1]}, momentum buffer");
                }
            }
        }
        finally
        {
            foreach (var (p, g, m) in buffers)
            {
                p.Dispose();
                g.Dispose();
                m.Dispose();
            }
        }
    }
}

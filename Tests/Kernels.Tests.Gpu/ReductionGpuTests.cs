using System;
using System.Linq;
using Kernels.Optimizers;
using Kernels.Tests.Gpu.Harness;
using Kernels.Tests.Gpu.Rules;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace Kernels.Tests.Gpu;

/// <summary>
/// Rules with <see cref="Reduce"/> on the GPU (ILGPU's CPU accelerator): the reduction kernel, the combination and the
/// update kernel give the span overload's bits — the documented order is the same on both sides, so nothing differs
/// but who computes what. Lengths cover a partial block, one block, and several blocks with a tail.
/// </summary>
public sealed class ReductionGpuTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly CpuAcceleratorFixture _fixture;

    public ReductionGpuTests(CpuAcceleratorFixture fixture) => _fixture = fixture;

    public static TheoryData<int> Lengths => new() { 1, 3001, 16_384, 40_005 };

    private static float[] Floats(int seed, int n)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(i => i % 97 == 0 ? 0f : (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void TrustRatio_OnTheCpuAccelerator_IsTheSpanOverload(int length)
    {
        float[] p = Floats(1, length), g = Floats(2, length), m = Floats(3, length);
        float[] expectedP = (float[])p.Clone(), expectedM = (float[])m.Clone();
        Accelerator accelerator = _fixture.Accelerator;
        using var pd = accelerator.Allocate1D(p);
        using var gd = accelerator.Allocate1D(g);
        using var md = accelerator.Allocate1D(m);
        for (int step = 0; step < 2; step++)
        {
            ReductionGpuRules.TrustRatio(expectedP, g, expectedM, 0.9f, 0.01f);
            ReductionGpuRules.TrustRatio(accelerator.DefaultStream, pd.View, gd.View, md.View, 0.9f, 0.01f);
        }
        accelerator.Synchronize();
        Bits.Equal(new Array[] { expectedP, expectedM }, new Array[] { pd.GetAsArray1D(), md.GetAsArray1D() }, $"TrustRatio, length {length}");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void MaxAndSum_OnTheCpuAccelerator_IsTheSpanOverload(int length)
    {
        var random = new Random(4);
        double[] p = Enumerable.Range(0, length).Select(_ => random.NextDouble() - 0.5).ToArray();
        double[] g = Enumerable.Range(0, length).Select(i => i % 89 == 0 ? -0.0 : random.NextDouble() * 3 - 1).ToArray();
        double[] expected = (double[])p.Clone();
        Accelerator accelerator = _fixture.Accelerator;
        using var pd = accelerator.Allocate1D(p);
        using var gd = accelerator.Allocate1D(g);
        ReductionGpuRules.MaxAndSum(expected, g, 0.5);
        ReductionGpuRules.MaxAndSum(accelerator.DefaultStream, pd.View, gd.View, 0.5);
        accelerator.Synchronize();
        Bits.Equal(new Array[] { expected }, new Array[] { pd.GetAsArray1D() }, $"MaxAndSum, length {length}");
    }

    [Fact]
    public void MaxWithANaN_IsNaNEverywhere_OnTheGpuToo()
    {
        double[] p = new double[20_000], g = Enumerable.Range(0, 20_000).Select(i => (double)i).ToArray();
        g[17_000] = double.NaN;
        Accelerator accelerator = _fixture.Accelerator;
        using var pd = accelerator.Allocate1D(p);
        using var gd = accelerator.Allocate1D(g);
        ReductionGpuRules.MaxAndSum(accelerator.DefaultStream, pd.View, gd.View, 0.5);
        accelerator.Synchronize();
        Assert.All(pd.GetAsArray1D(), x => Assert.True(double.IsNaN(x)));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Lars_BuiltIn_FromKernelsGpu_IsTheSpanOverload(int length)
    {
        // The built-in's GPU part comes from its exported plan (Kernels.Gpu): the launcher is a static extension member.
        float[] p = Floats(5, length), g = Floats(6, length), v = Floats(7, length);
        float[] expectedP = (float[])p.Clone(), expectedV = (float[])v.Clone();
        Accelerator accelerator = _fixture.Accelerator;
        using var pd = accelerator.Allocate1D(p);
        using var gd = accelerator.Allocate1D(g);
        using var vd = accelerator.Allocate1D(v);
        for (int step = 0; step < 2; step++)
        {
            Lars.Step(expectedP, g, expectedV, 0.1, 0.9, 1e-4, 0.02, 1e-8);
            Lars.Step(accelerator.DefaultStream, pd.View, gd.View, vd.View, 0.1, 0.9, 1e-4, 0.02, 1e-8);
        }
        accelerator.Synchronize();
        Bits.Equal(new Array[] { expectedP, expectedV }, new Array[] { pd.GetAsArray1D(), vd.GetAsArray1D() }, $"Lars, length {length}");
    }

    [Fact]
    public void MultiTensorLaunch_ReducesEachTensorOverItself_WithItsOwnValues()
    {
        long[] lengths = { 3001, 0, 20_000, 1 };
        float[] lrs = { 0.01f, 0.5f, 0.02f, 0.1f };
        int total = (int)lengths.Sum();
        float[] p = Floats(8, total), g = Floats(9, total), m = Floats(10, total);
        float[] expectedP = (float[])p.Clone(), expectedM = (float[])m.Clone();
        long offset = 0;
        for (int t = 0; t < lengths.Length; t++)
        {
            var range = new Range((int)offset, (int)(offset + lengths[t]));
            ReductionGpuRules.TrustRatio(expectedP.AsSpan(range), g.AsSpan(range), expectedM.AsSpan(range), 0.9f, lrs[t]);
            offset += lengths[t];
        }
        Accelerator accelerator = _fixture.Accelerator;
        using var table = new Kernels.Gpu.GpuTensorTable(accelerator, lengths);
        using var pd = accelerator.Allocate1D(p);
        using var gd = accelerator.Allocate1D(g);
        using var md = accelerator.Allocate1D(m);
        var perTensor = lrs.Select(lr => ReductionGpuRules.TrustRatioGpu.Prepare(0.9f, lr)).ToArray();
        ReductionGpuRules.TrustRatio(accelerator.DefaultStream, table, pd.View, gd.View, md.View, perTensor);
        accelerator.Synchronize();
        Bits.Equal(new Array[] { expectedP, expectedM }, new Array[] { pd.GetAsArray1D(), md.GetAsArray1D() }, "TrustRatio over four packed tensors");
    }
}

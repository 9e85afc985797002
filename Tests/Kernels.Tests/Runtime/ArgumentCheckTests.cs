using System;
using System.Linq;
using Kernels.Optimizers;
using Xunit;

namespace Kernels.Tests.Runtime;

/// <summary>Bad input throws an ArgumentException naming the argument, before any element is written.</summary>
public class ArgumentCheckTests
{
    private const int N = 100;

    private static float[] Data(int seed, int length = N) => Enumerable.Range(0, length).Select(i => (float)Math.Sin(seed * 1000 + i)).ToArray();

    private sealed class Buffers
    {
        public float[] Param = Data(1), Grad = Data(2), ExpAvg = Data(3), ExpAvgSq = Data(4).Select(Math.Abs).ToArray(), Max = Data(5).Select(Math.Abs).ToArray();
        private readonly float[][] _snapshot;

        public Buffers() => _snapshot = All.Select(a => (float[])a.Clone()).ToArray();

        private float[][] All => new[] { Param, Grad, ExpAvg, ExpAvgSq, Max };

        public void AssertUnchanged()
        {
            float[][] all = All;
            for (int b = 0; b < all.Length; b++)
                Assert.True(all[b].AsSpan().SequenceEqual(_snapshot[b]), $"buffer {b} was written");
        }
    }

    [Theory]
    [InlineData("grad")]
    [InlineData("expAvg")]
    [InlineData("expAvgSq")]
    [InlineData("maxExpAvgSq")]
    public void LengthMismatch_NamesTheArgument_AndWritesNothing(string which)
    {
        var b = new Buffers();
        Span<float> Cut(float[] a, string name) => name == which ? a.AsSpan(0, N - 1) : a;

        var e = Assert.Throws<ArgumentException>(() => AdamW.Step(
            b.Param, Cut(b.Grad, "grad"), Cut(b.ExpAvg, "expAvg"), Cut(b.ExpAvgSq, "expAvgSq"), Cut(b.Max, "maxExpAvgSq"), step: 1, amsgrad: true));

        Assert.Equal(which, e.ParamName);
        Assert.Contains("99", e.Message);
        b.AssertUnchanged();
    }

    [Fact]
    public void UnusedBuffer_MayBeEmptyOrAnyLength_AndIsNotTouched()
    {
        var b = new Buffers();
        AdamW.Step(b.Param, b.Grad, b.ExpAvg, b.ExpAvgSq, Span<float>.Empty, step: 1, amsgrad: false);

        var c = new Buffers();
        float[] unrelated = Data(9, 7);
        float[] before = (float[])unrelated.Clone();
        AdamW.Step(c.Param, c.Grad, c.ExpAvg, c.ExpAvgSq, unrelated, step: 1, amsgrad: false);
        Assert.Equal(before, unrelated);
        Assert.Equal(b.Param, c.Param);
    }

    [Fact]
    public void UsedBuffer_MustNotBeEmpty()
    {
        var b = new Buffers();
        var e = Assert.Throws<ArgumentException>(() => AdamW.Step(b.Param, b.Grad, b.ExpAvg, b.ExpAvgSq, Span<float>.Empty, step: 1, amsgrad: true));
        Assert.Equal("maxExpAvgSq", e.ParamName);
        b.AssertUnchanged();
    }

    [Fact]
    public void SameArrayTwice_Throws_AndWritesNothing()
    {
        var b = new Buffers();
        var e = Assert.Throws<ArgumentException>(() => AdamW.Step(b.Param, b.Grad, b.ExpAvg, b.ExpAvg, Span<float>.Empty, step: 1));
        Assert.Equal("expAvgSq", e.ParamName);
        b.AssertUnchanged();
    }

    [Fact]
    public void PartlyOverlappingSlices_Throw_AndWriteNothing()
    {
        float[] shared = Data(7, 2 * N);
        float[] before = (float[])shared.Clone();
        var b = new Buffers();
        var e = Assert.Throws<ArgumentException>(() => SGD.Step(shared.AsSpan(0, N), b.Grad, shared.AsSpan(N - 1, N), lr: 0.1, step: 1, momentum: 0.9));
        Assert.Equal("momentumBuffer", e.ParamName);
        Assert.Equal(before, shared);
    }

    [Fact]
    public void WrittenSpanOverlappingTheGradient_Throws()
    {
        var b = new Buffers();
        var e = Assert.Throws<ArgumentException>(() => Lion.Step(b.Param, b.Param, b.ExpAvg));
        Assert.Equal("grad", e.ParamName);
        b.AssertUnchanged();
    }

    [Fact]
    public void StepOptions_RejectsBadValues()
    {
        Assert.Equal("maxDegreeOfParallelism", Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions(maxDegreeOfParallelism: -2)).ParamName);
        Assert.Equal("parallelThreshold", Assert.Throws<ArgumentOutOfRangeException>(() => new StepOptions(parallelThreshold: -1)).ParamName);
    }

    [Fact]
    public void StepOptions_ThreadCount()
    {
        Assert.Equal(1, StepOptions.SingleThreaded.ThreadCountFor(1 << 24, 1024));
        Assert.Equal(1, default(StepOptions).ThreadCountFor(StepOptions.DefaultParallelThreshold - 1, 1024));
        Assert.Equal(Environment.ProcessorCount, default(StepOptions).ThreadCountFor(1 << 24, 1024));
        Assert.Equal(3, new StepOptions(maxDegreeOfParallelism: 8, parallelThreshold: 1).ThreadCountFor(3000, 1024)); // never less than a block per thread
    }
}

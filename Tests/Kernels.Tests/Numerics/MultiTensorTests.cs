using System;
using System.Linq;
using Kernels.Optimizers;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>The multi-tensor overload equals the span overload applied tensor by tensor, bit for bit, however the tensors are split over threads.</summary>
public class MultiTensorTests
{
    // Empty, tiny, odd and vector-multiple tensors, and one large enough to be split across threads.
    private static readonly int[] s_sizes = { 0, 1, 17, 64, 1000, 3 * 1024 + 5, 0, 33, 20_000, 7 };

    public static TheoryData<int, int> Options() => new() { { 1, 0 }, { 2, 1 }, { 3, 1 }, { 7, 1 }, { 0, 0 } };

    [Theory, MemberData(nameof(Options))]
    public void AdamW_EqualsPerTensorSpanOverload(int threads, int threshold)
    {
        var options = new StepOptions(maxDegreeOfParallelism: threads, parallelThreshold: threshold);
        foreach (bool amsgrad in new[] { false, true })
        {
            var random = new Random(5);
            float[][][] expected = s_sizes.Select(n => new[]
            {
                SpecialValues.Floats(random, n), SpecialValues.Floats(random, n), SpecialValues.Floats(random, n),
                SpecialValues.Floats(random, n, positive: true), SpecialValues.Floats(random, n, positive: true),
            }).ToArray();
            float[][][] actual = expected.Select(t => t.Select(b => (float[])b.Clone()).ToArray()).ToArray();

            foreach (float[][] t in expected)
                AdamW.Step(t[0], t[1], t[2], t[3], amsgrad ? t[4] : default, step: 3, amsgrad: amsgrad, options: StepOptions.SingleThreaded);

            Memory<float>[] List(int b) => actual.Select(t => new Memory<float>(t[b])).ToArray();
            ReadOnlyMemory<float>[] grads = actual.Select(t => new ReadOnlyMemory<float>(t[1])).ToArray();
            AdamW.Step(List(0), grads, List(2), List(3), amsgrad ? List(4) : default, step: 3, amsgrad: amsgrad, options: options);

            for (int k = 0; k < expected.Length; k++)
            {
                for (int b = 0; b < 5; b++)
                {
                    Assert.True(expected[k][b].Select(Bits).SequenceEqual(actual[k][b].Select(Bits)),
                        $"tensor {k} (size {s_sizes[k]}), buffer {b}, amsgrad {amsgrad}, threads {threads}");
                }
            }
        }
    }

    // Any NaN matches any NaN (see BitExact); everything else bit for bit.
    private static long Bits(float f) => float.IsNaN(f) ? long.MinValue : BitConverter.SingleToInt32Bits(f);

    [Fact]
    public void ListLengthMismatch_Throws_AndWritesNothing()
    {
        float[] p = { 1, 2, 3 }, g = { 1, 1, 1 }, m = { 0, 0, 0 };
        var e = Assert.Throws<ArgumentException>(() => SGD.Step(
            new Memory<float>[] { p, p.AsMemory(0, 0) }, new ReadOnlyMemory<float>[] { g }, new Memory<float>[] { m, default }, lr: 0.1, step: 1, momentum: 0.9));
        Assert.Equal("grad", e.ParamName);
        Assert.Equal(new float[] { 1, 2, 3 }, p);
    }

    [Fact]
    public void TensorLengthMismatch_NamesTheArgument_AndWritesNothing()
    {
        float[] p0 = { 1, 2 }, g0 = { 1, 1 }, m0 = { 0, 0 };
        float[] p1 = { 1, 2, 3 }, g1 = { 1, 1, 1 }, m1 = { 0, 0 };
        var e = Assert.Throws<ArgumentException>(() => SGD.Step(
            new Memory<float>[] { p0, p1 }, new ReadOnlyMemory<float>[] { g0, g1 }, new Memory<float>[] { m0, m1 }, lr: 0.1, step: 1, momentum: 0.9));
        Assert.Equal("momentumBuffer", e.ParamName);
        Assert.Contains("momentumBuffer[1]", e.Message);
        Assert.Equal(new float[] { 1, 2 }, p0);   // the first tensor was valid, but nothing is written before every check passed
    }

    [Fact]
    public void OverlapWithinATensor_Throws()
    {
        float[] shared = new float[8];
        var e = Assert.Throws<ArgumentException>(() => SGD.Step(
            new Memory<float>[] { shared.AsMemory(0, 4) }, new ReadOnlyMemory<float>[] { new float[4] }, new Memory<float>[] { shared.AsMemory(2, 4) }, lr: 0.1, step: 1, momentum: 0.9));
        Assert.Equal("momentumBuffer", e.ParamName);
    }
}

using System;
using System.Linq;
using Kernels.Tests.Rules;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>
/// Rules with <see cref="Reduce"/> against their scalar reading: the reduction's argument for every element, reduced
/// in the documented order (written out below from docs/Optimizers.md, not taken from the runtime), then the rule for
/// every element with the result. Same bits at every length, thread count and (CI reruns this namespace) ISA path.
/// </summary>
public class ReductionRuleTests
{
    public static TheoryData<int> Lengths => new() { 0, 1, 5, 64, 1000, 16_384, 16_385, 50_001 };

    private static readonly StepOptions[] s_threads =
        { new(1), new(2, parallelThreshold: 1), new(3, parallelThreshold: 1), new(8, parallelThreshold: 1) };

    /// <summary>The documented order: blocks of 16,384; element i of a block into double accumulator i % 64; the tree; blocks in order.</summary>
    private static float OrderedSum(float[] values)
    {
        double total = 0;
        for (int start = 0; start < values.Length; start += 16_384)
        {
            var acc = new double[64];
            int n = Math.Min(16_384, values.Length - start);
            for (int i = 0; i < n; i++)
                acc[i % 64] += values[start + i];
            for (int width = 32; width >= 1; width /= 2)
            {
                for (int k = 0; k < width; k++)
                    acc[k] += acc[k + width];
            }
            total += acc[0];
        }
        return (float)total;
    }

    private static float[] Values(int seed, int length, double zeros = 0.05)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.NextDouble() < zeros ? 0f : (float)(random.NextDouble() * 4 - 2)).ToArray();
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]) && !(float.IsNaN(expected[i]) && float.IsNaN(actual[i])))
                Assert.Fail($"{what}: element {i} of {expected.Length}: expected {expected[i]} (0x{BitConverter.SingleToInt32Bits(expected[i]):X8}), got {actual[i]} (0x{BitConverter.SingleToInt32Bits(actual[i]):X8})");
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Normalized_MatchesScalarReading_AtEveryThreadCount(int length)
    {
        float[] p0 = Values(1, length), g = Values(2, length);
        float norm = MathF.Sqrt(OrderedSum(g.Select(x => x * x).ToArray()));
        float[] expected = p0.Select((p, i) => p - (norm > 0 ? 0.1f * g[i] / norm : 0f)).ToArray();
        foreach (StepOptions options in s_threads)
        {
            float[] p = (float[])p0.Clone();
            ReductionRules.Normalized(p, g, 0.1f, options);
            AssertBits(expected, p, $"threads {options.MaxDegreeOfParallelism}");
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void TrustRatio_WritesStateOnce_AndMatchesScalarReading(int length)
    {
        float[] p0 = Values(3, length), g = Values(4, length), m0 = Values(5, length);
        // The scalar reading: the statements before the reductions for every element (their results only feed the
        // sums), the sums, then the whole rule once per element.
        float[] u = new float[length];
        for (int i = 0; i < length; i++)
        {
            float m = 0.9f * m0[i] + (1 - 0.9f) * g[i];
            u[i] = m / (1 + MathF.Abs(m)) + 0.01f * p0[i];
        }
        float pn = MathF.Sqrt(OrderedSum(p0.Select(x => x * x).ToArray()));
        float un = MathF.Sqrt(OrderedSum(u.Select(x => x * x).ToArray()));
        float trust = pn > 0 && un > 0 ? pn / un : 1f;
        float[] expectedP = p0.Select((p, i) => p - 0.01f * trust * u[i]).ToArray();
        float[] expectedM = m0.Select((m, i) => 0.9f * m + (1 - 0.9f) * g[i]).ToArray();
        foreach (StepOptions options in s_threads)
        {
            float[] p = (float[])p0.Clone(), m = (float[])m0.Clone();
            ReductionRules.TrustRatio(p, g, m, options: options);
            AssertBits(expectedM, m, $"m, threads {options.MaxDegreeOfParallelism}");
            AssertBits(expectedP, p, $"p, threads {options.MaxDegreeOfParallelism}");
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void MaxScaled_MatchesScalarReading(int length)
    {
        float[] p0 = Values(6, length), g = Values(7, length);
        float largest = g.Length == 0 ? float.NegativeInfinity : g.Max(x => MathF.Abs(x));
        float[] expected = p0.Select((p, i) => p - 0.5f * g[i] / largest).ToArray();
        foreach (StepOptions options in s_threads)
        {
            float[] p = (float[])p0.Clone();
            ReductionRules.MaxScaled(p, g, 0.5f, options);
            AssertBits(expected, p, $"threads {options.MaxDegreeOfParallelism}");
        }
    }

    [Fact]
    public void MaxScaled_OneNaN_MakesEveryElementNaN()
    {
        float[] p = Values(8, 40_000), g = Values(9, 40_000);
        g[33_333] = float.NaN;
        ReductionRules.MaxScaled(p, g, 0.5f, new StepOptions(2, parallelThreshold: 1));
        Assert.All(p, x => Assert.True(float.IsNaN(x)));
    }

    [Fact]
    public void MultiTensorOverload_ReducesEachTensorOverItself()
    {
        int[] lengths = { 3, 20_000, 0, 777 };
        float[][] p = lengths.Select((n, k) => Values(10 + k, n)).ToArray();
        float[][] g = lengths.Select((n, k) => Values(20 + k, n)).ToArray();
        float[][] expected = p.Select(x => (float[])x.Clone()).ToArray();
        for (int k = 0; k < lengths.Length; k++)
            ReductionRules.Normalized(expected[k], g[k], 0.1f);
        ReductionRules.Normalized(p.Select(x => new Memory<float>(x)).ToArray(), g.Select(x => new ReadOnlyMemory<float>(x)).ToArray(), 0.1f,
            new StepOptions(3, parallelThreshold: 1));
        for (int k = 0; k < lengths.Length; k++)
            AssertBits(expected[k], p[k], $"tensor {k}");
    }

    [Fact]
    public void ReduceCalledOutsideAGeneratedOverload_Throws()
    {
        float p = 1;
        var e = Assert.Throws<InvalidOperationException>(() => ReductionRules.Normalized(ref p, 1f));
        Assert.Contains("Reduce.Sum", e.Message);
    }
}

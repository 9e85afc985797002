using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training;
using Xunit;

namespace Kernels.Tests.Training;

/// <summary>
/// Gradient clipping: the global norm against double-precision references, its fixed summation order (the same bits
/// for every thread count, tensor split and vector width), PyTorch's coefficient, and the in-place forms.
/// </summary>
/// <remarks>CI re-runs these with DOTNET_PreferredVectorBitWidth=256, DOTNET_EnableAVX2=0 and DOTNET_EnableHWIntrinsic=0; the hard-coded bit patterns make each run check the same value.</remarks>
public class GradientClippingTests
{
    // Lengths that start and end inside the 16-element groups and the 16,384-element blocks, with empty tensors between.
    private static readonly int[] s_lengths = [0, 1, 15, 16, 17, 1000, 0, 16_384 + 3, 5, 40_000, 3, 70_001];

    private static readonly StepOptions[] s_threadOptions =
    [
        StepOptions.SingleThreaded,
        new(maxDegreeOfParallelism: 2, parallelThreshold: 1),
        new(maxDegreeOfParallelism: 3, parallelThreshold: 1),
        new(maxDegreeOfParallelism: 7, parallelThreshold: 1),
        default,
    ];

    /// <summary>Exactly representable values k · 2^-20 with |k| &lt; 2^23, from a fixed integer generator (the same on every machine).</summary>
    private static float[][] Grads(int seed, int[]? lengths = null)
    {
        ulong state = (ulong)seed * 0x9E3779B97F4A7C15UL + 1;
        return (lengths ?? s_lengths).Select(n =>
        {
            var g = new float[n];
            for (int i = 0; i < n; i++)
            {
                state = state * 6364136223846793005UL + 1442695040888963407UL;
                long k = (long)(state >> 40) - (1L << 23);
                g[i] = k * (1f / (1 << 20));
            }
            return g;
        }).ToArray();
    }

    private static double[][] Widen(float[][] grads) => grads.Select(g => g.Select(x => (double)x * 1.000000001).ToArray()).ToArray();

    private static ReadOnlyMemory<T>[] ReadOnly<T>(T[][] grads) => grads.Select(g => new ReadOnlyMemory<T>(g)).ToArray();

    private static Memory<T>[] Writable<T>(T[][] grads) => grads.Select(g => new Memory<T>(g)).ToArray();

    /// <summary>Sum of squares element by element in one running double: a different order from the kernel's.</summary>
    private static double NaiveNorm(IEnumerable<double> values, double normType)
    {
        if (double.IsPositiveInfinity(normType))
            return values.Aggregate(0.0, (m, x) => Math.Max(m, Math.Abs(x)));
        double sum = 0;
        foreach (double x in values)
            sum += normType == 2 ? x * x : Math.Abs(x);
        return normType == 2 ? Math.Sqrt(sum) : sum;
    }

    /// <summary>The summation order the XML docs of <see cref="GradientClipping"/> define, written out in scalar code.</summary>
    private static double DocumentedOrder(double[] all, double normType)
    {
        if (double.IsPositiveInfinity(normType))
            return NaiveNorm(all, normType); // a maximum is exact in any order
        double total = 0;
        for (int start = 0; start < all.Length; start += GradientClipping.BlockLength)
        {
            var a = new double[64];
            int end = Math.Min(all.Length, start + GradientClipping.BlockLength);
            for (int i = start; i < end; i++)
                a[(i - start) % 64] += normType == 2 ? all[i] * all[i] : Math.Abs(all[i]);
            double[] s = a;
            for (int half = 32; half >= 1; half /= 2)
                s = Enumerable.Range(0, half).Select(k => s[k] + s[k + half]).ToArray();
            total += s[0];
        }
        return normType == 2 ? Math.Sqrt(total) : total;
    }

    private static void AssertClose(double expected, double actual, double relative)
    {
        Assert.True(Math.Abs(actual - expected) <= relative * Math.Abs(expected), $"expected {expected:R}, got {actual:R} (relative error {Math.Abs(actual - expected) / Math.Abs(expected):E2}, allowed {relative:E0})");
    }

    [Theory]
    [InlineData(2.0)]
    [InlineData(1.0)]
    [InlineData(double.PositiveInfinity)]
    public void GlobalNorm_Float_MatchesDoublePrecisionReference(double normType)
    {
        float[][] grads = Grads(1);
        double expected = NaiveNorm(grads.SelectMany(g => g).Select(x => (double)x), normType);

        double actual = GradientClipping.GlobalNorm(ReadOnly(grads), normType);

        // Both sum in double, in different orders: ~n·eps worst case, far below 1e-12 here (norm ∞ is exact).
        AssertClose(expected, actual, double.IsPositiveInfinity(normType) ? 0 : 1e-12);
        Assert.Equal(DocumentedOrder(grads.SelectMany(g => g).Select(x => (double)x).ToArray(), normType), actual);
    }

    [Theory]
    [InlineData(2.0)]
    [InlineData(1.0)]
    [InlineData(double.PositiveInfinity)]
    public void GlobalNorm_Double_MatchesDoublePrecisionReference(double normType)
    {
        double[][] grads = Widen(Grads(2));
        double expected = NaiveNorm(grads.SelectMany(g => g), normType);

        double actual = GradientClipping.GlobalNorm(ReadOnly(grads), normType);

        AssertClose(expected, actual, double.IsPositiveInfinity(normType) ? 0 : 1e-12);
        Assert.Equal(DocumentedOrder(grads.SelectMany(g => g).ToArray(), normType), actual);
    }

    /// <summary>
    /// One fixed input, one recorded result: every vector width CI runs must produce these bits. Each was recorded from
    /// this implementation after checking it against the exact value (integer arithmetic, below); norm 2 re-recorded
    /// when the order went from 16 to 64 accumulators (same check, the same bits on the 512/256/128-bit and scalar paths).
    /// </summary>
    [Theory]
    [InlineData(2.0, 0x4099D27460523475L)]
    [InlineData(1.0, 0x411F2A80E49A4000L)]
    [InlineData(double.PositiveInfinity, 0x401FFFEFC0000000L)]
    public void GlobalNorm_RecordedBits_AreTheSameOnEveryVectorWidth(double normType, long bits)
    {
        float[][] grads = Grads(3);

        double actual = GradientClipping.GlobalNorm(ReadOnly(grads), normType);

        // Independent check of the recorded value: every gradient is k · 2^-20 with integer k, so the sum of squares
        // (Σk² · 2^-40) and of absolute values (Σ|k| · 2^-20) are exact in integers.
        long[] k = grads.SelectMany(g => g).Select(x => (long)(x * (1 << 20))).ToArray();
        double exact = normType switch
        {
            2 => Math.Sqrt((double)k.Aggregate(Int128.Zero, (s, v) => s + (Int128)v * v)) / (1 << 20),
            1 => k.Sum(Math.Abs) / (double)(1 << 20),
            _ => k.Max(Math.Abs) / (double)(1 << 20),
        };
        AssertClose(exact, actual, 1e-14);
        Assert.Equal(bits, BitConverter.DoubleToInt64Bits(actual));
    }

    [Fact]
    public void GlobalNorm_RecordedBits_Double()
    {
        double actual = GradientClipping.GlobalNorm(ReadOnly(Widen(Grads(4))));
        AssertClose(NaiveNorm(Widen(Grads(4)).SelectMany(g => g), 2), actual, 1e-12);
        Assert.Equal(0x4099CD6345A21B0FL, BitConverter.DoubleToInt64Bits(actual));
    }

    [Theory]
    [InlineData(2.0)]
    [InlineData(1.0)]
    [InlineData(double.PositiveInfinity)]
    public void GlobalNorm_SameBits_ForEveryThreadCount(double normType)
    {
        float[][] grads = Grads(5);
        double[][] wide = Widen(grads);
        long expected = BitConverter.DoubleToInt64Bits(GradientClipping.GlobalNorm(ReadOnly(grads), normType, StepOptions.SingleThreaded));
        long expectedWide = BitConverter.DoubleToInt64Bits(GradientClipping.GlobalNorm(ReadOnly(wide), normType, StepOptions.SingleThreaded));

        foreach (StepOptions options in s_threadOptions)
        {
            Assert.Equal(expected, BitConverter.DoubleToInt64Bits(GradientClipping.GlobalNorm(ReadOnly(grads), normType, options)));
            Assert.Equal(expectedWide, BitConverter.DoubleToInt64Bits(GradientClipping.GlobalNorm(ReadOnly(wide), normType, options)));
        }
    }

    [Theory]
    [InlineData(2.0)]
    [InlineData(1.0)]
    [InlineData(double.PositiveInfinity)]
    public void GlobalNorm_SameBits_ManySmallTensorsOrOneConcatenated(double normType)
    {
        float[] all = Grads(6).SelectMany(g => g).ToArray();
        var random = new Random(6);
        var pieces = new List<float[]>();
        for (int start = 0; start < all.Length;)
        {
            int n = random.Next(4) == 0 ? 0 : Math.Min(all.Length - start, random.Next(1, 3000));
            pieces.Add(all[start..(start + n)]);
            start += n;
        }

        double whole = GradientClipping.GlobalNorm(new ReadOnlyMemory<float>[] { all }, normType);
        foreach (StepOptions options in s_threadOptions)
            Assert.Equal(BitConverter.DoubleToInt64Bits(whole), BitConverter.DoubleToInt64Bits(GradientClipping.GlobalNorm(ReadOnly(pieces.ToArray()), normType, options)));
    }

    [Fact]
    public void GlobalNorm_EmptyList_OrEmptyTensors_IsZero()
    {
        Assert.Equal(0.0, GradientClipping.GlobalNorm(ReadOnlySpan<ReadOnlyMemory<float>>.Empty));
        Assert.Equal(0.0, GradientClipping.GlobalNorm(new ReadOnlyMemory<double>[] { default, default }, double.PositiveInfinity));
        Assert.Equal(0.0, GradientClipping.GlobalNorm(new ReadOnlyMemory<float>[] { new float[5] }));
    }

    public static TheoryData<double, int> NonFiniteCases()
    {
        var data = new TheoryData<double, int>();
        // Positions: a leading element, inside a vector group, the tail, a later block.
        foreach (double normType in new[] { 2.0, 1.0, double.PositiveInfinity })
            foreach (int position in new[] { 0, 37, 1032, 20_000, 120_000 })
                data.Add(normType, position);
        return data;
    }

    [Theory, MemberData(nameof(NonFiniteCases))]
    public void GlobalNorm_NaN_Propagates_AndInfinityGivesInfinity(double normType, int position)
    {
        float[][] grads = Grads(7);
        float[] all = grads.SelectMany(g => g).ToArray();
        double[] allWide = all.Select(x => (double)x).ToArray();
        foreach (StepOptions options in s_threadOptions)
        {
            float[] nan = (float[])all.Clone();
            nan[position] = float.NaN;
            Assert.True(double.IsNaN(GradientClipping.GlobalNorm(new ReadOnlyMemory<float>[] { nan }, normType, options)));

            float[] inf = (float[])all.Clone();
            inf[position] = float.NegativeInfinity;
            Assert.Equal(double.PositiveInfinity, GradientClipping.GlobalNorm(new ReadOnlyMemory<float>[] { inf }, normType, options));

            inf[position / 2] = float.NaN;
            Assert.True(double.IsNaN(GradientClipping.GlobalNorm(new ReadOnlyMemory<float>[] { inf }, normType, options)));

            double[] nanWide = (double[])allWide.Clone();
            nanWide[position] = double.NaN;
            Assert.True(double.IsNaN(GradientClipping.GlobalNorm(new ReadOnlyMemory<double>[] { nanWide }, normType, options)));
        }
    }

    [Fact]
    public void GlobalNorm_FloatSquares_DoNotOverflow()
    {
        // float.MaxValue² overflows float but not double: the norm comes out finite and right.
        float[] g = [float.MaxValue, float.MaxValue, 0];
        Assert.Equal(float.MaxValue * Math.Sqrt(2), GradientClipping.GlobalNorm(new ReadOnlyMemory<float>[] { g }), 1e-6 * float.MaxValue);
    }

    [Fact]
    public void ClipCoefficient_IsPyTorchsFloat32Formula()
    {
        // torch: clip_coef = max_norm / (total + 1e-6) with a float32 0-dim total; Python's scalar / tensor is
        // tensor.reciprocal() * scalar, every step rounded to float; then clamp(max=1).
        foreach (double total in new[] { 0.5, 1.0, 3.0, 7.25, 1234.5678, 1e-3, 1e30 })
        {
            foreach (double maxNorm in new[] { 0.0, 0.1, 1.0, 5.0 })
            {
                float denominator = (float)total + 1e-6f;
                float expected = Math.Min(1f, 1f / denominator * (float)maxNorm);
                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(GradientClipping.ClipCoefficient(total, maxNorm)));
                Assert.Equal(Math.Min(1.0, 1.0 / (total + 1e-6) * maxNorm), GradientClipping.ClipCoefficientDouble(total, maxNorm));
            }
        }
        // The reciprocal form is not the quotient: here they differ in the last bit, and PyTorch's Python code gives the former.
        float reciprocalForm = 1f / (2.5f + 1e-6f) * 0.1f;
        Assert.NotEqual(0.1f / (2.5f + 1e-6f), reciprocalForm);
        Assert.Equal(reciprocalForm, GradientClipping.ClipCoefficient(2.5, 0.1));
    }

    [Fact]
    public void ClipCoefficient_EdgeValues()
    {
        Assert.Equal(1f, GradientClipping.ClipCoefficient(0, 1.0));     // total 0: nothing to clip
        Assert.Equal(0f, GradientClipping.ClipCoefficient(0, 0.0));     // max_norm 0: everything to zero
        Assert.Equal(0f, GradientClipping.ClipCoefficient(double.PositiveInfinity, 1.0));
        Assert.True(float.IsNaN(GradientClipping.ClipCoefficient(double.NaN, 1.0)));
        Assert.True(double.IsNaN(GradientClipping.ClipCoefficientDouble(double.NaN, 1.0)));
        Assert.Equal(1f, GradientClipping.ClipCoefficient(2.0, double.PositiveInfinity));
        // The total is rounded to float first: 1 + 2^-30 is 1 in float.
        Assert.Equal(GradientClipping.ClipCoefficient(1.0, 0.5), GradientClipping.ClipCoefficient(1.0 + Math.Pow(2, -30), 0.5));
    }

    [Fact]
    public void ClipGradNorm_ComputesButDoesNotWrite()
    {
        float[][] grads = Grads(8);
        float[][] before = grads.Select(g => (float[])g.Clone()).ToArray();

        ClipResult result = GradientClipping.ClipGradNorm(ReadOnly(grads), maxNorm: 1.0);

        Assert.Equal(GradientClipping.GlobalNorm(ReadOnly(grads)), result.TotalNorm);
        Assert.Equal(GradientClipping.ClipCoefficient(result.TotalNorm, 1.0), (float)result.Coefficient);
        Assert.True(result.IsFinite);
        Assert.True(result.Clips);
        Assert.Equal(before, grads);
    }

    [Fact]
    public void ClipGradNormInPlace_MultipliesEveryElementByTheCoefficient()
    {
        foreach (StepOptions options in s_threadOptions)
        {
            float[][] grads = Grads(9);
            float[][] before = grads.Select(g => (float[])g.Clone()).ToArray();

            ClipResult result = GradientClipping.ClipGradNormInPlace(Writable(grads), maxNorm: 2.0, options: options);

            float c = (float)result.Coefficient;
            Assert.True(c < 1);
            Assert.Equal(before.Select(g => g.Select(x => x * c).ToArray()), grads);
            // The clipped gradients have (about) the largest norm allowed.
            AssertClose(2.0, GradientClipping.GlobalNorm(ReadOnly(grads)), 1e-6);

            double[][] wide = Widen(Grads(9));
            double[][] wideBefore = wide.Select(g => (double[])g.Clone()).ToArray();
            ClipResult wideResult = GradientClipping.ClipGradNormInPlace(Writable(wide), maxNorm: 2.0, options: options);
            Assert.Equal(GradientClipping.ClipCoefficientDouble(wideResult.TotalNorm, 2.0), wideResult.Coefficient);
            Assert.Equal(wideBefore.Select(g => g.Select(x => x * wideResult.Coefficient).ToArray()), wide);
        }
    }

    [Fact]
    public void ClipGradNormInPlace_BelowTheLimit_LeavesGradientsBitIdentical()
    {
        float[][] grads = Grads(10);
        grads[1][0] = -0f;
        float[][] before = grads.Select(g => (float[])g.Clone()).ToArray();

        ClipResult result = GradientClipping.ClipGradNormInPlace(Writable(grads), maxNorm: 1e9);

        Assert.Equal(1.0, result.Coefficient);
        Assert.False(result.Clips);
        Assert.Equal(before.Select(g => g.Select(BitConverter.SingleToInt32Bits)), grads.Select(g => g.Select(BitConverter.SingleToInt32Bits)));
    }

    [Fact]
    public void ClipGradNorm_ErrorIfNonfinite_Throws_AndWritesNothing()
    {
        float[][] grads = Grads(11);
        grads[9][123] = float.PositiveInfinity;
        float[][] before = grads.Select(g => (float[])g.Clone()).ToArray();

        var e = Assert.Throws<NotFiniteNumberException>(() => GradientClipping.ClipGradNormInPlace(Writable(grads), 1.0, errorIfNonfinite: true));
        Assert.Contains("non-finite", e.Message);
        Assert.Equal(double.PositiveInfinity, e.OffendingNumber);
        Assert.Equal(before, grads);

        grads[9][123] = float.NaN;
        Assert.Throws<NotFiniteNumberException>(() => GradientClipping.ClipGradNorm(ReadOnly(grads), 1.0, errorIfNonfinite: true));
        Assert.Throws<NotFiniteNumberException>(() => GradientClipping.ClipGradNorm(ReadOnly(Widen(grads)), 1.0, double.PositiveInfinity, errorIfNonfinite: true));
    }

    [Fact]
    public void ClipGradNorm_NonFiniteWithoutTheFlag_ScalesAsPyTorch()
    {
        // Infinite norm: coefficient 0, so finite gradients become 0 and the infinite one NaN (inf · 0).
        float[][] grads = Grads(12);
        grads[5][2] = float.NegativeInfinity;
        ClipResult inf = GradientClipping.ClipGradNormInPlace(Writable(grads), 1.0);
        Assert.False(inf.IsFinite);
        Assert.Equal(0.0, inf.Coefficient);
        Assert.True(float.IsNaN(grads[5][2]));
        Assert.All(grads.SelectMany(g => g).Where(x => !float.IsNaN(x)), x => Assert.Equal(0f, x));

        // NaN norm: coefficient NaN, every gradient NaN.
        float[][] nan = Grads(12);
        nan[9][7] = float.NaN;
        ClipResult result = GradientClipping.ClipGradNormInPlace(Writable(nan), 1.0);
        Assert.True(double.IsNaN(result.TotalNorm));
        Assert.True(double.IsNaN(result.Coefficient));
        Assert.All(nan.SelectMany(g => g), x => Assert.True(float.IsNaN(x)));
    }

    [Fact]
    public void ClipGradNorm_EmptyList_ReturnsZeroNorm_AndCoefficientOne()
    {
        ClipResult result = GradientClipping.ClipGradNormInPlace(ReadOnlySpan<Memory<float>>.Empty, 1.0, errorIfNonfinite: true);
        Assert.Equal(new ClipResult(0, 1), result);
        Assert.Equal(new ClipResult(0, 1), GradientClipping.ClipGradNorm(ReadOnlySpan<ReadOnlyMemory<double>>.Empty, 1.0));
    }

    [Fact]
    public void ClipGradNorm_ZeroGradients_CoefficientIsOne()
    {
        var grads = new[] { new float[100], new float[3] };
        ClipResult result = GradientClipping.ClipGradNormInPlace(Writable(grads), 1.0);
        Assert.Equal(new ClipResult(0, 1), result);
    }

    public static TheoryData<double> BadNormTypes() => new() { 3.0, 0.0, -1.0, double.NegativeInfinity, double.NaN, 2.5 };

    [Theory, MemberData(nameof(BadNormTypes))]
    public void UnsupportedNormType_ThrowsArgumentOutOfRange_NamingIt(double normType)
    {
        float[][] grads = Grads(13, [4]);
        Assert.Equal("normType", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.GlobalNorm(ReadOnly(grads), normType)).ParamName);
        Assert.Equal("normType", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.GlobalNorm(ReadOnly(Widen(grads)), normType)).ParamName);
        Assert.Equal("normType", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipGradNormInPlace(Writable(grads), 1.0, normType)).ParamName);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(-1e-300)]
    [InlineData(double.NaN)]
    [InlineData(double.NegativeInfinity)]
    public void NegativeMaxNormOrClipValue_ThrowsArgumentOutOfRange_NamingIt(double value)
    {
        float[][] grads = Grads(14, [4]);
        float[][] before = grads.Select(g => (float[])g.Clone()).ToArray();
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipGradNorm(ReadOnly(grads), value)).ParamName);
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipGradNormInPlace(Writable(grads), value)).ParamName);
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipGradNorm(ReadOnly(Widen(grads)), value)).ParamName);
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipCoefficient(1.0, value)).ParamName);
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipCoefficientDouble(1.0, value)).ParamName);
        Assert.Equal("clipValue", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipGradValue(Writable(grads), value)).ParamName);
        Assert.Equal(before, grads);
        if (!double.IsNaN(value))
            Assert.Equal("totalNorm", Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipCoefficient(value, 1.0)).ParamName);
    }

    [Fact]
    public void ClipGradValue_ClampsEveryElement_NaNStaysNaN()
    {
        foreach (StepOptions options in s_threadOptions)
        {
            float[][] grads = Grads(15);
            grads[3][1] = float.NaN;
            grads[3][2] = float.PositiveInfinity;
            grads[9][39_999] = float.NegativeInfinity;
            grads[9][3] = -0f;
            float[][] before = grads.Select(g => (float[])g.Clone()).ToArray();

            GradientClipping.ClipGradValue(Writable(grads), 0.75, options);

            for (int t = 0; t < grads.Length; t++)
            {
                for (int i = 0; i < grads[t].Length; i++)
                {
                    float x = before[t][i];
                    float expected = float.IsNaN(x) ? x : Math.Clamp(x, -0.75f, 0.75f);
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(grads[t][i]));
                }
            }

            double[][] wide = Widen(Grads(15));
            wide[9][0] = double.NaN;
            double[][] wideBefore = wide.Select(g => (double[])g.Clone()).ToArray();
            GradientClipping.ClipGradValue(Writable(wide), 0.75, options);
            Assert.Equal(wideBefore.Select(g => g.Select(x => double.IsNaN(x) ? x : Math.Clamp(x, -0.75, 0.75))), wide);
        }
    }

    [Fact]
    public void Scale_MultipliesEveryElement_AndSkipsAFactorOfOne()
    {
        foreach (StepOptions options in s_threadOptions)
        {
            float[][] grads = Grads(16);
            float[][] before = grads.Select(g => (float[])g.Clone()).ToArray();
            GradientClipping.Scale(Writable(grads), 0.3f, options);
            Assert.Equal(before.Select(g => g.Select(x => x * 0.3f)), grads);

            double[][] wide = Widen(Grads(16));
            double[][] wideBefore = wide.Select(g => (double[])g.Clone()).ToArray();
            GradientClipping.Scale(Writable(wide), 0.3, options);
            Assert.Equal(wideBefore.Select(g => g.Select(x => x * 0.3)), wide);
        }
    }
}

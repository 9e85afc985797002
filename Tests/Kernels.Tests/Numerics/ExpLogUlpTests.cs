using System;
using System.Linq;
using Kernels.Tests.Rules;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>
/// Exp and Log have no exactly-rounded vector form: the span overload uses .NET's vectorized
/// Vector512/256/128.Exp/Log, the scalar rule the C runtime's expf/logf. Neither is the exact result;
/// we bound the difference between them against an exactly-rounded reference computed in double
/// (for float) — a reference independent of both implementations.
/// Bound (documented in the README): the vector forms are within 2 ulp of the correctly rounded result
/// for float (measured maximum printed), and agree with the scalar form on specials (NaN, ±Inf, 0, negatives).
/// </summary>
public class ExpLogUlpTests
{
    private const int MaxUlpFloat = 2;

    private static long UlpDistance(float a, float b)
    {
        if (float.IsNaN(a) || float.IsNaN(b))
            return float.IsNaN(a) && float.IsNaN(b) ? 0 : long.MaxValue;
        int ia = BitConverter.SingleToInt32Bits(a), ib = BitConverter.SingleToInt32Bits(b);
        if (ia < 0) ia = int.MinValue - ia;
        if (ib < 0) ib = int.MinValue - ib;
        return Math.Abs((long)ia - ib);
    }

    [Fact]
    public void FloatExpAndLog_WithinBound_OfCorrectlyRounded()
    {
        var random = new Random(7);
        int n = 200_003;
        // Exp: the whole finite range plus overflow/underflow edges; Log: positive values over all magnitudes.
        float[] x = Enumerable.Range(0, n).Select(i => i % 2 == 0
            ? (float)(random.NextDouble() * 200 - 100)
            : (float)Math.Pow(2, random.NextDouble() * 250 - 125)).ToArray();
        var e = new float[n];
        var l = new float[n];

        ExpLogRule.Update(e, l, x);

        long worstExp = 0, worstLog = 0;
        for (int i = 0; i < n; i++)
        {
            worstExp = Math.Max(worstExp, UlpDistance(e[i], (float)Math.Exp(x[i])));
            worstLog = Math.Max(worstLog, UlpDistance(l[i], (float)Math.Log(x[i])));
        }
        Console.WriteLine($"float Exp: worst {worstExp} ulp, Log: worst {worstLog} ulp from the correctly rounded result");
        Assert.True(worstExp <= MaxUlpFloat, $"Exp: {worstExp} ulp");
        Assert.True(worstLog <= MaxUlpFloat, $"Log: {worstLog} ulp");
    }

    [Fact]
    public void FloatExpAndLog_Specials_MatchScalar()
    {
        float[] x = { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, -1f, 1f, 89f, -104f, float.Epsilon, 1e-40f, 88.72284f, -87.33655f, 100f, -200f, 0.5f };
        var e = new float[x.Length];
        var l = new float[x.Length];
        ExpLogRule.Update(e, l, x);
        for (int i = 0; i < x.Length; i++)
        {
            float se = MathF.Exp(x[i]), sl = MathF.Log(x[i]);
            Assert.True(float.IsNaN(se) ? float.IsNaN(e[i]) : UlpDistance(se, e[i]) <= MaxUlpFloat, $"exp({x[i]}): scalar {se}, vector {e[i]}");
            Assert.True(float.IsNaN(sl) ? float.IsNaN(l[i]) : UlpDistance(sl, l[i]) <= MaxUlpFloat, $"log({x[i]}): scalar {sl}, vector {l[i]}");
        }
    }

    [Fact]
    public void DoubleExpAndLog_WithinBound_OfScalar()
    {
        // No wider type is at hand for an exactly-rounded double reference, so the double forms are
        // bounded against the scalar Math.Exp/Math.Log (each itself within 1 ulp of exact).
        var random = new Random(11);
        int n = 100_003;
        double[] x = Enumerable.Range(0, n).Select(i => i % 2 == 0 ? random.NextDouble() * 1400 - 700 : Math.Pow(2, random.NextDouble() * 2000 - 1000)).ToArray();
        var e = new double[n];
        var l = new double[n];
        ExpLogDoubleRule.Update(e, l, x);
        long worst = 0;
        for (int i = 0; i < n; i++)
        {
            worst = Math.Max(worst, Distance(e[i], Math.Exp(x[i])));
            worst = Math.Max(worst, Distance(l[i], Math.Log(x[i])));
        }
        Console.WriteLine($"double Exp/Log: worst {worst} ulp from the scalar forms");
        Assert.True(worst <= 2, $"{worst} ulp");

        static long Distance(double a, double b)
        {
            if (double.IsNaN(a) || double.IsNaN(b))
                return double.IsNaN(a) && double.IsNaN(b) ? 0 : long.MaxValue;
            long ia = BitConverter.DoubleToInt64Bits(a), ib = BitConverter.DoubleToInt64Bits(b);
            if (ia < 0) ia = long.MinValue - ia;
            if (ib < 0) ib = long.MinValue - ib;
            return Math.Abs(ia - ib);
        }
    }
}

using System;
using System.Linq;
using Kernels.Tests.Rules;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>
/// The Exp/Log contract of the generated loops (README, "Exp and Log"): a per-element <c>MathF.Exp</c>/<c>Log</c>
/// (or Math, float, double, KernelMath) is computed by <see cref="KernelMath"/> in the vector body, the scalar tail
/// and the GPU kernel, so an element's result depends only on its input — not on its position, the thread count or
/// the ISA path (CI runs these on Vector512, Vector256, Vector128 and scalar-only). KernelMath's own accuracy
/// (≤ 1 ulp from correctly rounded) is measured in <see cref="KernelMathTests"/>; here the loops are checked against
/// it bit for bit, and against the C runtime's MathF.Exp/Log within the sum of both bounds (2 ulp).
/// </summary>
public class ExpLogUlpTests
{
    public static TheoryData<int> Lengths => new() { 1, 7, 16, 17, 63, 64, 65, 1000, 4099 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void FloatRule_EveryPosition_IsKernelMath(int length) =>
        BitExact.Check(3, length, (r, n) => SpecialValues.Floats(r, n),
            (b, i) => { b[0][i] = KernelMath.Exp(b[2][i]); b[1][i] = KernelMath.Log(b[2][i]); },
            (b, o, n, opt) => ExpLogRule.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), opt));

    [Theory]
    [MemberData(nameof(Lengths))]
    public void DoubleRule_EveryPosition_IsKernelMath(int length) =>
        BitExact.Check(3, length, (r, n) => SpecialValues.Doubles(r, n),
            (b, i) => { b[0][i] = KernelMath.Exp(b[2][i]); b[1][i] = KernelMath.Log(b[2][i]); },
            (b, o, n, opt) => ExpLogDoubleRule.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), opt));

    [Theory]
    [MemberData(nameof(Lengths))]
    public void RuleCallingKernelMath_IsBitIdenticalToItsScalarForm(int length) =>
        BitExact.Check(2, length, (r, n) => SpecialValues.Floats(r, n),
            (b, i) => KernelMathRule.Update(ref b[0][i], in b[1][i]),
            (b, o, n, opt) => KernelMathRule.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), options: opt));

    [Fact]
    public void SameInputAtEveryPosition_SameResult()
    {
        // One input repeated: every lane of every vector width and every tail element must agree.
        foreach (float x in new[] { 0.1f, -87.3f, 88.7f, 1e-40f, 3.5f, float.NaN, float.NegativeInfinity })
        {
            var input = Enumerable.Repeat(x, 100).ToArray();
            var e = new float[100];
            var l = new float[100];
            ExpLogRule.Update(e, l, input);
            Assert.All(e, v => Assert.Equal(BitConverter.SingleToInt32Bits(KernelMath.Exp(x)), BitConverter.SingleToInt32Bits(v)));
            Assert.All(l, v => Assert.Equal(BitConverter.SingleToInt32Bits(KernelMath.Log(x)), BitConverter.SingleToInt32Bits(v)));
        }
    }

    [Fact]
    public void FloatRule_WithinTwoUlp_OfTheCRuntime()
    {
        // The user's scalar rule calls the C runtime's expf/logf; both are within 1 ulp of exact, so within 2 of each other.
        var random = new Random(7);
        int n = 200_003;
        float[] x = Enumerable.Range(0, n).Select(i => i % 2 == 0
            ? (float)(random.NextDouble() * 200 - 100)
            : (float)Math.Pow(2, random.NextDouble() * 250 - 125)).ToArray();
        var e = new float[n];
        var l = new float[n];
        ExpLogRule.Update(e, l, x);
        long worst = 0;
        for (int i = 0; i < n; i++)
        {
            worst = Math.Max(worst, Ulp(e[i], MathF.Exp(x[i])));
            worst = Math.Max(worst, Ulp(l[i], MathF.Log(x[i])));
        }
        Console.WriteLine($"span overload vs MathF.Exp/Log: worst {worst} ulp");
        Assert.True(worst <= 2, $"{worst} ulp");

        static long Ulp(float a, float b)
        {
            if (float.IsNaN(a) || float.IsNaN(b))
                return float.IsNaN(a) && float.IsNaN(b) ? 0 : long.MaxValue;
            int ia = BitConverter.SingleToInt32Bits(a), ib = BitConverter.SingleToInt32Bits(b);
            if (ia < 0) ia = int.MinValue - ia;
            if (ib < 0) ib = int.MinValue - ib;
            return Math.Abs((long)ia - ib);
        }
    }
}

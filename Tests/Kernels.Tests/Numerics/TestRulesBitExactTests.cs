using System;
using System.Linq;
using Kernels.Tests.Rules;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>The span overloads of the rules in Rules/TestRules.cs equal their scalar rules bit for bit.</summary>
public class TestRulesBitExactTests
{
    public static TheoryData<int> Lengths() => new(BitExact.Lengths());

    [Theory, MemberData(nameof(Lengths))]
    public void AdaBelief(int length)
    {
        foreach (int step in new[] { 1, 2, 10 })
        {
            BitExact.Check(4, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => Rules.AdaBelief.Update(ref b[0][i], in b[1][i], ref b[2][i], ref b[3][i], step: step),
                (b, o, n, opt) => Rules.AdaBelief.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), b[3].AsSpan(o, n), step: step, options: opt));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void PerElementSelects(int length)
    {
        foreach (bool flag in new[] { false, true })
        {
            BitExact.Check(3, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => SelectRule.Update(ref b[0][i], in b[1][i], ref b[2][i], threshold: 0.75f, flag: flag),
                (b, o, n, opt) => SelectRule.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), threshold: 0.75f, flag: flag, options: opt));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void UniformBranchesAndLoops(int length)
    {
        foreach (int step in new[] { 1, 2, 3, 4 })
        foreach (bool useExtra in new[] { false, true })
        foreach (bool maximize in new[] { false, true })
        {
            BitExact.Check(4, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => UniformRule.Update(ref b[0][i], in b[1][i], ref b[2][i], ref b[3][i], step: step, useExtra: useExtra, maximize: maximize),
                (b, o, n, opt) => UniformRule.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), b[3].AsSpan(o, n), step: step, useExtra: useExtra, maximize: maximize, options: opt));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void DoubleElements(int length)
    {
        foreach (bool nesterov in new[] { false, true })
        {
            BitExact.Check(3, length, (r, n) => SpecialValues.Doubles(r, n),
                (b, i) => DoubleRule.Update(ref b[0][i], in b[1][i], ref b[2][i], step: 3, nesterov: nesterov),
                (b, o, n, opt) => DoubleRule.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), step: 3, nesterov: nesterov, options: opt));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void FloatRuleComputingInDouble(int length)
    {
        BitExact.Check(3, length, (r, n) => SpecialValues.Floats(r, n),
            (b, i) => MixedFloatRule.Update(ref b[0][i], in b[1][i], ref b[2][i]),
            (b, o, n, opt) => MixedFloatRule.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), options: opt));
    }

    [Theory, MemberData(nameof(Lengths))]
    public void DoubleRuleComputingInFloat(int length)
    {
        BitExact.Check(2, length, (r, n) => SpecialValues.Doubles(r, n),
            (b, i) => MixedDoubleRule.Update(ref b[0][i], in b[1][i]),
            (b, o, n, opt) => MixedDoubleRule.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), options: opt));
    }

    [Theory, MemberData(nameof(Lengths))]
    public void SignWithoutNaN(int length)
    {
        // Math.Sign throws on NaN in scalar form, so the inputs here hold ±0, ±Inf and subnormals but no NaN.
        static float[] NoNaN(Random r, int n) => SpecialValues.Floats(r, n).Select(x => float.IsNaN(x) ? -0f : x).ToArray();
        BitExact.Check(2, length, NoNaN,
            (b, i) => SignRule.Update(ref b[0][i], in b[1][i]),
            (b, o, n, opt) => SignRule.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), options: opt));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(64, 0)]
    [InlineData(64, 37)]
    [InlineData(67, 66)]
    public void SignOfNaN_ThrowsLikeTheScalarRule_WhereverTheNaNIs(int length, int nanAt)
    {
        // Math.Sign throws on NaN; the vector loop must throw the same exception, from any lane, as must the tail.
        var p = new float[length];
        var g = Enumerable.Repeat(1f, length).ToArray();
        g[nanAt] = float.NaN;
        Assert.Throws<ArithmeticException>(() => SignRule.Update(ref p[nanAt], in g[nanAt]));
        Assert.Throws<ArithmeticException>(() => SignRule.Update(p, g));
        Assert.Throws<ArithmeticException>(() => SignRule.Update(p, g, options: StepOptions.SingleThreaded));
    }

    [Fact]
    public void LargeSpanSplitAcrossCoresByDefault()
    {
        int length = StepOptions.DefaultParallelThreshold + 4099;
        Assert.True(default(StepOptions).ThreadCountFor(length, 1024) == Environment.ProcessorCount);
        BitExact.Check(4, length, (r, n) => SpecialValues.Floats(r, n),
            (b, i) => Rules.AdaBelief.Update(ref b[0][i], in b[1][i], ref b[2][i], ref b[3][i], step: 7),
            (b, o, n, opt) => Rules.AdaBelief.Update(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), b[3].AsSpan(o, n), step: 7));
    }
}

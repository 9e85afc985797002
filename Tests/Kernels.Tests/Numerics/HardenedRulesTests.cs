using System;
using System.Linq;
using Kernels.Tests.Rules;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>
/// The span overloads of the fuzzer's regression rules against the scalar rule element by element: same bits,
/// and the same exceptions (thrown exactly when the scalar loop throws) for every length that hits a tail.
/// </summary>
public class HardenedRulesTests
{
    public static TheoryData<int> Lengths => new() { 1, 3, 16, 17, 63, 64, 65, 257 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void DivideUnderCondition_ZeroDivisor_DoesNotThrow_AndMatches(int length)
    {
        foreach (int k in new[] { 0, 3, -7 })
        {
            BitExact.Check(2, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => HardenedRules.DivideUnderCondition(ref b[0][i], in b[1][i], k),
                (b, o, n, opt) => HardenedRules.DivideUnderCondition(b[0].AsSpan(o, n), b[1].AsSpan(o, n), k, opt));
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void FirstBufferGuarded_UpdatesParamsWhenUnused(int length)
    {
        foreach (bool useMomentum in new[] { false, true })
        {
            BitExact.Check(3, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => HardenedRules.FirstBufferGuarded(ref b[0][i], ref b[1][i], in b[2][i], useMomentum),
                (b, o, n, opt) => HardenedRules.FirstBufferGuarded(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), useMomentum, options: opt));
        }
        // Without momentum the state may be empty, as documented, and the parameters still move.
        var p = Enumerable.Repeat(1f, length).ToArray();
        var g = Enumerable.Repeat(1f, length).ToArray();
        HardenedRules.FirstBufferGuarded(default, p, g, useMomentum: false);
        Assert.All(p, x => Assert.Equal(0.5f, x));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SwitchAndIdioms_MatchScalar(int length)
    {
        foreach (int mode in new[] { 0, 1, 2, 5 })
        {
            // Pow(x, n) for a constant n ≤ 4 is defined as repeated multiplication (the C runtime's pow is not
            // correctly rounded even for n = 2), so modes 1 and 2 are compared with that written out by hand.
            BitExact.Check(2, length, mode == 5 ? (r, n) => SpecialValues.Floats(r, n).Select(x => float.IsNaN(x) ? 1f : x).ToArray() : (r, n) => SpecialValues.Floats(r, n),
                (b, i) =>
                {
                    if (mode is 1 or 2)
                        b[0][i] -= 0.25f * (b[1][i] * b[1][i]) + b[1][i] * b[1][i] * b[1][i] * 0.5f;
                    else
                        HardenedRules.SwitchAndIdioms(ref b[0][i], in b[1][i], mode);
                },
                (b, o, n, opt) => HardenedRules.SwitchAndIdioms(b[0].AsSpan(o, n), b[1].AsSpan(o, n), mode, options: opt));
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SameNameBothArms_MatchScalar(int length)
    {
        foreach (bool flag in new[] { false, true })
        {
            BitExact.Check(2, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => HardenedRules.SameNameBothArms(ref b[0][i], in b[1][i], flag),
                (b, o, n, opt) => HardenedRules.SameNameBothArms(b[0].AsSpan(o, n), b[1].AsSpan(o, n), flag, options: opt));
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void NegatedSignConversion_ZeroGivesNegativeZero_AtEveryPosition(int length)
    {
        // G15: -((float)MathF.Sign(x)) negates the float, so x = ±0 gives -0f (C# semantics, not derived from the
        // generator). The scalar tail printed -MathF.Sign(x), negating the int and giving +0 at tail positions only.
        BitExact.Check(2, length, (r, n) => SpecialValues.Floats(r, n).Select(x => float.IsNaN(x) ? (r.Next(2) == 0 ? 0f : -0f) : x).ToArray(),
            (b, i) => HardenedRules.NegatedSignConversion(ref b[0][i], in b[1][i]),
            (b, o, n, opt) => HardenedRules.NegatedSignConversion(b[0].AsSpan(o, n), b[1].AsSpan(o, n), opt));

        var p = new float[length];
        var s = Enumerable.Range(0, length).Select(i => i % 2 == 0 ? 0f : -0f).ToArray();
        HardenedRules.NegatedSignConversion(p, s);
        Assert.All(p, x => Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(x)));

        // The storage overload runs the same scalar tail: bf16 parameters get the bf16 -0 (0x8000) everywhere.
        var pb = new Kernels.Precision.BFloat16[length];
        HardenedRules.NegatedSignConversion<Kernels.Precision.BFloat16, float>(pb, s);
        Assert.All(pb, x => Assert.Equal((ushort)0x8000, x.Bits));
    }

    [Fact]
    public void Validated_ThrowsTheScalarRulesExceptions()
    {
        var p = new float[5];
        var g = new float[5];
        Assert.Throws<ArgumentOutOfRangeException>(() => HardenedRules.Validated(ref p[0], in g[0], lr: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => HardenedRules.Validated(p, g, lr: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => HardenedRules.Validated(p, g, lr: float.NaN));
        HardenedRules.Validated(p, g, lr: 0.5f);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void WithHelpers_InlinedHelpers_MatchScalar(int length) =>
        BitExact.Check(2, length, (r, n) => SpecialValues.Floats(r, n),
            (b, i) => HardenedRules.WithHelpers(ref b[0][i], in b[1][i]),
            (b, o, n, opt) => HardenedRules.WithHelpers(b[0].AsSpan(o, n), b[1].AsSpan(o, n), options: opt));

    /// <summary>Runs the scalar loop and the span overload on copies: same exception type, or else the same bits.</summary>
    private static void SameOutcome(float[] g, int k, float lo, float hi)
    {
        var expectedP = Enumerable.Range(0, g.Length).Select(i => i * 0.25f).ToArray();
        var actualP = (float[])expectedP.Clone();
        Type? expected = null, actual = null;
        try
        {
            for (int i = 0; i < g.Length; i++)
                HardenedRules.ThrowsOnlyWhereReached(ref expectedP[i], in g[i], ref expectedP[i], k, lo, hi);
        }
        catch (Exception e) { expected = e.GetType(); }
        try { HardenedRules.ThrowsOnlyWhereReached(actualP, g, default, k, lo, hi); }
        catch (Exception e) { actual = e.GetType(); }
        Assert.Equal(expected, actual);
        if (expected is null)
            Assert.Equal(expectedP.Select(BitConverter.SingleToInt32Bits), actualP.Select(BitConverter.SingleToInt32Bits));

        // The multi-tensor overload too (split in two tensors).
        var multiP = Enumerable.Range(0, g.Length).Select(i => i * 0.25f).ToArray();
        Type? multi = null;
        int half = g.Length / 2;
        try
        {
            HardenedRules.ThrowsOnlyWhereReached(
                new Memory<float>[] { multiP.AsMemory(0, half), multiP.AsMemory(half) },
                new ReadOnlyMemory<float>[] { g.AsMemory(0, half), g.AsMemory(half) },
                default, k, lo, hi);
        }
        catch (Exception e) { multi = e.GetType(); }
        Assert.Equal(expected, multi);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void ThrowsOnlyWhereReached_SameExceptionsAsTheScalarLoop(int length)
    {
        float[] negative = Enumerable.Range(0, length).Select(i => -1f - i).ToArray();
        float[] mixed = negative.Select((x, i) => i == length - 1 ? 2f : x).ToArray();
        SameOutcome(negative, k: 0, lo: -2, hi: 1);            // division reached by no element: no exception
        SameOutcome(mixed, k: 0, lo: -2, hi: 1);               // reached by the last element: DivideByZeroException
        SameOutcome(mixed, k: 4, lo: -2, hi: 1);               // fine
        SameOutcome(negative, k: 0, lo: 2, hi: 1);             // per-element Clamp with min > max: ArgumentException
        SameOutcome(negative, k: 0, lo: float.NaN, hi: 1);     // Sign(NaN) reached: ArithmeticException
        SameOutcome(Enumerable.Repeat(1f, length).ToArray(), k: 5, lo: float.NaN, hi: -1); // neither reached
    }

    /// <summary>The scalar loop, the span overload and the multi-tensor overload (two tensors) on copies: same exception type, or else the same bits.</summary>
    private static void SameOutcomeShortCircuit(bool mixed, float[] p, float[] g, float lo, float hi)
    {
        float[] expectedP = (float[])p.Clone(), actualP = (float[])p.Clone(), multiP = (float[])p.Clone();
        Type? expected = null, actual = null, multi = null;
        try
        {
            for (int i = 0; i < g.Length; i++)
            {
                if (mixed)
                    HardenedRules.ShortCircuitCheckedMixed(ref expectedP[i], in g[i], lo, hi);
                else
                    HardenedRules.ShortCircuitChecked(ref expectedP[i], in g[i], lo, hi);
            }
        }
        catch (Exception e) { expected = e.GetType(); }
        try
        {
            if (mixed)
                HardenedRules.ShortCircuitCheckedMixed(actualP, g, lo, hi);
            else
                HardenedRules.ShortCircuitChecked(actualP, g, lo, hi);
        }
        catch (Exception e) { actual = e.GetType(); }
        int half = g.Length / 2;
        var tensors = new Memory<float>[] { multiP.AsMemory(0, half), multiP.AsMemory(half) };
        var grads = new ReadOnlyMemory<float>[] { g.AsMemory(0, half), g.AsMemory(half) };
        try
        {
            if (mixed)
                HardenedRules.ShortCircuitCheckedMixed(tensors, grads, lo, hi);
            else
                HardenedRules.ShortCircuitChecked(tensors, grads, lo, hi);
        }
        catch (Exception e) { multi = e.GetType(); }
        Assert.Equal(expected, actual);
        Assert.Equal(expected, multi);
        if (expected is null)
        {
            Assert.Equal(expectedP.Select(BitConverter.SingleToInt32Bits), actualP.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(expectedP.Select(BitConverter.SingleToInt32Bits), multiP.Select(BitConverter.SingleToInt32Bits));
        }
    }

    public static TheoryData<int, bool> LengthsAndMixed => new()
    {
        { 1, false }, { 3, false }, { 16, false }, { 17, false }, { 63, false }, { 64, false }, { 65, false }, { 257, false },
        { 1, true }, { 3, true }, { 17, true }, { 64, true }, { 257, true },
    };

    /// <summary>
    /// Fuzzer G13: a checked call (Math.Clamp with min &gt; max, Math.Sign of NaN) in the right operand of a per-element
    /// <c>||</c> / <c>&amp;&amp;</c> throws only for the elements the left operand leaves undecided, as in the scalar rule
    /// (the generated code used to check it on every lane, the scalar tail included).
    /// </summary>
    [Theory]
    [MemberData(nameof(LengthsAndMixed))]
    public void ShortCircuitChecked_RightOperandThrowsOnlyWhereReached(int length, bool mixed)
    {
        float[] Fill(Func<int, float> f) => Enumerable.Range(0, length).Select(f).ToArray();
        float[] Last(float[] a, float value) { var b = (float[])a.Clone(); b[length - 1] = value; return b; }
        float[] positive = Fill(i => 0.25f + (i % 5) * 0.125f);   // in (0, 1)
        float[] large = Fill(i => 200f + i);

        // `g > 0 || Clamp(g, 2, 1) > 0.5f`: every g is positive, so no element reaches the Clamp.
        SameOutcomeShortCircuit(mixed, large, positive, lo: 2, hi: 1);
        SameOutcomeShortCircuit(mixed, large, Last(positive, -1f), lo: 2, hi: 1);          // the last one does: ArgumentException
        SameOutcomeShortCircuit(mixed, large, Last(positive, float.NaN), lo: 2, hi: 1);    // NaN > 0 is false: reached

        // `g < 1 && Sign(p) >= 0`: a NaN p is reached only where g < 1.
        float[] nanP = Fill(_ => float.NaN);
        SameOutcomeShortCircuit(mixed, nanP, Fill(_ => 1.5f), lo: 0, hi: 1);
        SameOutcomeShortCircuit(mixed, nanP, Last(Fill(_ => 1.5f), 0.5f), lo: 0, hi: 1);   // ArithmeticException

        // Under a per-element if: `g < 2 && p > 2 || Clamp(g, 2, 1) < 0.25`, reached only where the left is false.
        SameOutcomeShortCircuit(mixed, Fill(_ => 5f), Fill(_ => 1.5f), lo: 2, hi: 1);
        SameOutcomeShortCircuit(mixed, Last(Fill(_ => 5f), 3f), Fill(_ => 1.5f), lo: 2, hi: 1);   // p is 1.125 there: ArgumentException

        // Values, where nothing throws (finite inputs: no NaN reaches Sign; min <= max).
        foreach ((float lo, float hi) in new[] { (0f, 1f), (-1f, 0.5f), (0.75f, 0.75f) })
        {
            BitExact.Check(2, length, (r, n) => SpecialValues.Floats(r, n).Select(x => float.IsFinite(x) ? x : 1.5f).ToArray(),
                (b, i) =>
                {
                    if (mixed)
                        HardenedRules.ShortCircuitCheckedMixed(ref b[0][i], in b[1][i], lo, hi);
                    else
                        HardenedRules.ShortCircuitChecked(ref b[0][i], in b[1][i], lo, hi);
                },
                (b, o, n, opt) =>
                {
                    if (mixed)
                        HardenedRules.ShortCircuitCheckedMixed(b[0].AsSpan(o, n), b[1].AsSpan(o, n), lo, hi, opt);
                    else
                        HardenedRules.ShortCircuitChecked(b[0].AsSpan(o, n), b[1].AsSpan(o, n), lo, hi, opt);
                });
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Reassigned_EachReadSeesItsOwnValue(int length) =>
        BitExact.Check(2, length, (r, n) => SpecialValues.Floats(r, n),
            (b, i) => HardenedRules.Reassigned(ref b[0][i], in b[1][i]),
            (b, o, n, opt) => HardenedRules.Reassigned(b[0].AsSpan(o, n), b[1].AsSpan(o, n), options: opt));

    [Theory]
    [MemberData(nameof(Lengths))]
    public void FlagAsValue_MatchesScalar(int length)
    {
        foreach (bool flag in new[] { false, true })
        {
            BitExact.Check(2, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => HardenedRules.FlagAsValue(ref b[0][i], in b[1][i], flag),
                (b, o, n, opt) => HardenedRules.FlagAsValue(b[0].AsSpan(o, n), b[1].AsSpan(o, n), flag, opt));
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Clamps_MathAndNumberSemantics_MatchScalar(int length)
    {
        // Bounds with NaN and ±0, min ≤ max in every configuration here (min > max is checked below).
        foreach ((float lo, float hi) in new[] { (0f, 1f), (-0f, 0f), (0f, float.NaN), (float.NaN, 1f), (-1f, -0f) })
        {
            BitExact.Check(3, length, (r, n) => SpecialValues.Floats(r, n).Select(x => x > 1 ? 1 : x).ToArray(),
                (b, i) => HardenedRules.Clamps(ref b[0][i], ref b[1][i], in b[2][i], lo, hi),
                (b, o, n, opt) => HardenedRules.Clamps(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), lo, hi, opt));
        }
        Assert.Throws<ArgumentException>(() => HardenedRules.Clamps(new float[length], new float[length], new float[length], lo: 2, hi: 1));
    }

    [Fact]
    public void ValidatedGuarded_FallbackSeesTheUsedBuffersLength()
    {
        var m = new float[40];
        var g = new float[40];
        Assert.Throws<ArgumentOutOfRangeException>(() => HardenedRules.ValidatedGuarded(ref m[0], in g[0], view: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => HardenedRules.ValidatedGuarded(m, g, view: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => HardenedRules.ValidatedGuarded(m, g, view: -1, flag: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => HardenedRules.ValidatedGuarded(new Memory<float>[] { m }, new ReadOnlyMemory<float>[] { g }, view: -1));
        HardenedRules.ValidatedGuarded(Span<float>.Empty, ReadOnlySpan<float>.Empty, view: -1); // no element, no exception: as the element loop
    }

    [Fact]
    public void ParallelStep_RethrowsTheFirstChunksException_Unwrapped()
    {
        // Per-element Clamp throws in every chunk of a multi-threaded step: the exception is the scalar one, not an AggregateException.
        int n = 300_000;
        var options = new StepOptions(maxDegreeOfParallelism: 4, parallelThreshold: 1024);
        Assert.Throws<ArgumentException>(() => HardenedRules.Clamps(new float[n], new float[n], new float[n], lo: 2, hi: 1, options));
        var g = Enumerable.Repeat(1f, n).ToArray();
        g[n - 5] = float.NaN;
        Assert.Throws<ArithmeticException>(() => SignRule.Update(new float[n], g, options: options));
        Assert.Throws<ArithmeticException>(() => SignRule.Update(new Memory<float>[] { new float[n / 2], new float[n - n / 2] },
            new ReadOnlyMemory<float>[] { g.AsMemory(0, n / 2), g.AsMemory(n / 2) }, options: options));
    }

    [Fact]
    public void MultiTensor_FirstListUnused_StillUpdatesTheOthers()
    {
        // The first per-element list is empty when unused: the tensors' lengths come from the first list that is used.
        var p = new[] { Enumerable.Repeat(1f, 300).ToArray(), Enumerable.Repeat(1f, 5000).ToArray() };
        var g = p.Select(x => Enumerable.Repeat(1f, x.Length).ToArray()).ToArray();
        HardenedRules.FirstBufferGuarded(default, p.Select(x => (Memory<float>)x).ToArray(), g.Select(x => (ReadOnlyMemory<float>)x).ToArray(),
            useMomentum: false, options: new StepOptions(parallelThreshold: 1024));
        Assert.All(p.SelectMany(x => x), x => Assert.Equal(0.5f, x));
    }

    [Fact]
    public void UnboxUnderCondition_ThrowsOnlyIfAnElementReachesIt()
    {
        var p = new float[50];
        var negative = Enumerable.Repeat(-1f, 50).ToArray();
        HardenedRules.UnboxUnderCondition(p, negative, "not a float");          // no element reaches the cast
        Assert.All(p, x => Assert.Equal(0f, x));
        var mixed = (float[])negative.Clone();
        mixed[49] = 1;
        Assert.Throws<InvalidCastException>(() => HardenedRules.UnboxUnderCondition(p, mixed, "not a float"));
        HardenedRules.UnboxUnderCondition(p, mixed, 2f);
        Assert.Equal(-2f, p[49]);
    }
}

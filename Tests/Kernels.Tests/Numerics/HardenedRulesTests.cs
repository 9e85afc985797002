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
}

using System;
using System.Linq;
using Kernels.Tests.Parity.Harness;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Kernels.Tests.Parity;

/// <summary>
/// The facts about libtorch's CPU kernels that the built-in rules' operation order relies on, checked bit for bit on
/// a 4099-element tensor (vectorized body and scalar tail). If a libtorch update changes one of them, this says
/// which, before the optimizer parity tests do.
/// </summary>
public sealed class AtenKernelFactsTests(ITestOutputHelper output)
{
    private const int N = ParityCase.DefaultLength;
    private const double S = 0.1234567;
    private static readonly float Sf = (float)S;

    private static float[] Values(int seed, bool positive = false)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, N).Select(_ =>
        {
            float v = (float)((random.NextDouble() * 2 - 1) * Math.Exp(random.NextDouble() * 4 - 2));
            return positive ? Math.Abs(v) + 1e-3f : v;
        }).ToArray();
    }

    private static void AssertBits(string what, Func<Tensor> compute, Func<int, float> expected)
    {
        float[] got = [];
        // TorchSharp scalars can be finalized mid-call under a collection: see NoGc.
        NoGc.Run(() =>
        {
            using var actual = compute();
            got = actual.data<float>().ToArray();
        });
        for (int i = 0; i < N; i++)
        {
            float e = expected(i);
            Assert.True(BitConverter.SingleToInt32Bits(got[i]) == BitConverter.SingleToInt32Bits(e),
                $"{what}: element {i} is {got[i]:R}, expected {e:R}");
        }
    }

    private readonly float[] _a = Values(1), _b = Values(2), _c = Values(3, positive: true);

    [Fact]
    public void Add_WithAlpha_IsOneFusedMultiplyAdd()
    {
        using var a = tensor(_a); using var b = tensor(_b);
        AssertBits("a.add(b, alpha)", () => a.add(b, S), i => MathF.FusedMultiplyAdd(_b[i], Sf, _a[i]));
    }

    [Fact]
    public void Addcmul_IsFusedMultiplyAddOfValueTimesFirst()
    {
        using var a = tensor(_a); using var b = tensor(_b); using var c = tensor(_c);
        AssertBits("a.addcmul(b, c, value)", () => a.addcmul(b, c, S), i => MathF.FusedMultiplyAdd(Sf * _b[i], _c[i], _a[i]));
    }

    [Fact]
    public void Addcdiv_IsSelfPlusValueTimesFirstOverSecond()
    {
        using var a = tensor(_a); using var b = tensor(_b); using var c = tensor(_c);
        AssertBits("a.addcdiv(b, c, value)", () => a.addcdiv(b, c, S), i => _a[i] + Sf * _b[i] / _c[i]);
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.001)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    public void Lerp_IsOneFusedMultiplyAdd_InEitherForm(double weight)
    {
        float w = (float)weight;
        using var a = tensor(_a); using var b = tensor(_b); using var wt = tensor(w);
        AssertBits($"a.lerp(b, {weight})", () => a.lerp(b, wt), i => Math.Abs(w) < 0.5f
            ? MathF.FusedMultiplyAdd(w, _b[i] - _a[i], _a[i])
            : MathF.FusedMultiplyAdd(w - 1, _b[i] - _a[i], _b[i]));
    }

    [Fact]
    public void ScalarOperands_AreRoundedToFloat_AndDivisionIsTrueDivision()
    {
        using var a = tensor(_a); using var c = tensor(_c);
        AssertBits("a.div(s)", () => a.div(S), i => _a[i] / Sf);
        AssertBits("a.mul(s)", () => a.mul(S), i => _a[i] * Sf);
        AssertBits("a.add(s)", () => a.add(S), i => _a[i] + Sf);
        AssertBits("c.reciprocal()", () => c.reciprocal(), i => 1f / _c[i]);
        AssertBits("a.sign()", () => a.sign(), i => _a[i] > 0 ? 1f : _a[i] < 0 ? -1f : 0f);
        AssertBits("a.clamp(max: 1)", () => a.clamp(null, 1), i => MathF.Min(_a[i], 1f));
    }

    /// <summary>
    /// libtorch's float32 sqrt on a tensor this long is not always correctly rounded (MathF.Sqrt is): some results
    /// are one ulp off. This is the one difference the rules cannot reproduce and the reason the parity tests for
    /// optimizers with a square root are not bit-exact (they are, once the reference's sqrt is correctly rounded).
    /// </summary>
    [Fact]
    public void Sqrt_IsWithinOneUlpOfCorrectlyRounded()
    {
        using var c = tensor(_c);
        float[] got = c.sqrt().data<float>().ToArray();
        int differing = 0, worst = 0;
        for (int i = 0; i < N; i++)
        {
            int ulps = Math.Abs(BitConverter.SingleToInt32Bits(got[i]) - BitConverter.SingleToInt32Bits(MathF.Sqrt(_c[i])));
            worst = Math.Max(worst, ulps);
            if (ulps != 0)
                differing++;
        }
        output.WriteLine($"libtorch sqrt vs correctly rounded: {differing} of {N} values differ, by at most {worst} ulp");
        Assert.True(worst <= 1, $"libtorch's sqrt is {worst} ulps from correctly rounded");
    }
}

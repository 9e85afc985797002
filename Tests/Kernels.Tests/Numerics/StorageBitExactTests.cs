using System;
using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kernels.Optimizers;
using Kernels.Precision;
using Kernels.Tests.Rules;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>
/// The storage overloads (buffers held as bfloat16 or fp16, the rule computing in float) against their definition: the
/// scalar rule called element by element on the widened values, every buffer it assigns rounded back to its type — for
/// every length, alignment and thread count, on whichever of the Vector512/256/128/scalar paths this process runs (CI
/// reruns this class with the wider vectors switched off), through the span and the multi-tensor overloads.
/// </summary>
/// <remarks>
/// The reference converts with the types' own operators (<c>(float)b</c>, <c>(BFloat16)f</c>, <c>(float)h</c>, <c>(Half)f</c>,
/// <see cref="BFloat16.RoundStochastic"/>), not with the kernels' helpers. NaN allowance as in <see cref="BitExact"/>: where
/// the reference is NaN the overload must give NaN, with any payload.
/// </remarks>
public class StorageBitExactTests
{
    public static TheoryData<int> Lengths() => new(BitExact.Lengths().Where(n => n > 0));

    /// <summary>The rule on one element's float values: the parameter, the read-only input, the state (in the rule's order).</summary>
    private delegate void ScalarRule(ref float param, float grad, float[] state);

    /// <summary>The storage span overload on <c>[offset, offset + length)</c> of every array.</summary>
    private delegate void SpanRule<TP, TG, TS>(TP[] param, TG[] grad, TS[][] state, int offset, int length, StepOptions options, StochasticRounding rounding);

    /// <summary>The storage multi-tensor overload on the tensors <c>[cuts[k], cuts[k + 1])</c> of every array.</summary>
    private delegate void MultiRule<TP, TG, TS>(TP[] param, TG[] grad, TS[][] state, int[] cuts, StepOptions options, StochasticRounding rounding);

    private static readonly int[] s_offsets = { 0, 1, 3 };

    // ---- Built-ins ------------------------------------------------------------------------------

    [Theory, MemberData(nameof(Lengths))]
    public void AdamW_Bf16ParamsAndGrads_Fp32State(int length) => AdamW<BFloat16, BFloat16, float>(length);

    [Theory, MemberData(nameof(Lengths))]
    public void AdamW_Bf16Everything(int length) => AdamW<BFloat16, BFloat16, BFloat16>(length);

    [Theory, MemberData(nameof(Lengths))]
    public void AdamW_Fp16ParamsAndGrads_Fp32State(int length) => AdamW<Half, Half, float>(length);

    [Theory, MemberData(nameof(Lengths))]
    public void AdamW_MixedTypes(int length) => AdamW<float, BFloat16, Half>(length);

    [Theory, MemberData(nameof(Lengths))]
    public void SGD_Bf16ParamsAndGrads_Fp32State(int length) => Sgd<BFloat16, BFloat16, float>(length);

    [Theory, MemberData(nameof(Lengths))]
    public void SGD_Bf16Everything(int length) => Sgd<BFloat16, BFloat16, BFloat16>(length);

    [Theory, MemberData(nameof(Lengths))]
    public void SGD_Fp16ParamsAndGrads_Fp32State(int length) => Sgd<Half, Half, float>(length);

    [Theory, MemberData(nameof(Lengths))]
    public void Lion_Bf16ParamsAndGrads_Fp32State(int length) => Lion<BFloat16, BFloat16, float>(length);

    [Theory, MemberData(nameof(Lengths))]
    public void Lion_Bf16Everything(int length) => Lion<BFloat16, BFloat16, BFloat16>(length);

    [Theory, MemberData(nameof(Lengths))]
    public void Lion_Fp16ParamsAndGrads_Fp32State(int length) => Lion<Half, Half, float>(length);

    private static void AdamW<TP, TG, TS>(int length) where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        foreach (var (step, beta1, amsgrad, maximize) in new[] { (1, 0.9, false, false), (7, 0.3, true, false), (2, 0.9, true, true), (7, 0.9, false, true) })
        {
            Check<TP, TG, TS>(length, 3,
                (ref float p, float g, float[] s) => Optimizers.AdamW.Step(ref p, in g, ref s[0], ref s[1], ref s[2], step, beta1: beta1, amsgrad: amsgrad, maximize: maximize),
                (p, g, s, o, n, opt, r) => Optimizers.AdamW.Step(p.AsSpan(o, n), g.AsSpan(o, n), s[0].AsSpan(o, n), s[1].AsSpan(o, n), amsgrad ? s[2].AsSpan(o, n) : default, step, beta1: beta1, amsgrad: amsgrad, maximize: maximize, options: opt with { Rounding = r }),
                (p, g, s, c, opt, r) => Optimizers.AdamW.Step(Tensors(p, c), ReadOnlyTensors(g, c), Tensors(s[0], c), Tensors(s[1], c), amsgrad ? Tensors(s[2], c) : default, step, beta1: beta1, amsgrad: amsgrad, maximize: maximize, options: opt with { Rounding = r }));
        }
    }

    private static void Sgd<TP, TG, TS>(int length) where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        foreach (var (step, momentum, weightDecay, nesterov, maximize) in new[] { (1, 0.9, 0.0, false, false), (3, 0.9, 1e-2, true, false), (2, 0.0, 1e-2, false, true), (5, 0.5, 0.0, false, true) })
        {
            Check<TP, TG, TS>(length, 1,
                (ref float p, float g, float[] s) => SGD.Step(ref p, in g, ref s[0], 0.01, step, momentum, 0.1, weightDecay, nesterov && momentum != 0, maximize),
                (p, g, s, o, n, opt, r) => SGD.Step(p.AsSpan(o, n), g.AsSpan(o, n), momentum != 0 ? s[0].AsSpan(o, n) : Span<TS>.Empty, 0.01, step, momentum, 0.1, weightDecay, nesterov && momentum != 0, maximize, opt with { Rounding = r }),
                (p, g, s, c, opt, r) => SGD.Step(Tensors(p, c), ReadOnlyTensors(g, c), Tensors(s[0], c), 0.01, step, momentum, 0.1, weightDecay, nesterov && momentum != 0, maximize, opt with { Rounding = r }));
        }
    }

    private static void Lion<TP, TG, TS>(int length) where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        foreach (var (weightDecay, maximize) in new[] { (0.0, false), (0.1, true) })
        {
            Check<TP, TG, TS>(length, 1,
                (ref float p, float g, float[] s) => Optimizers.Lion.Step(ref p, in g, ref s[0], lr: 1e-2, weightDecay: weightDecay, maximize: maximize),
                (p, g, s, o, n, opt, r) => Optimizers.Lion.Step(p.AsSpan(o, n), g.AsSpan(o, n), s[0].AsSpan(o, n), lr: 1e-2, weightDecay: weightDecay, maximize: maximize, options: opt with { Rounding = r }),
                (p, g, s, c, opt, r) => Optimizers.Lion.Step(Tensors(p, c), ReadOnlyTensors(g, c), Tensors(s[0], c), lr: 1e-2, weightDecay: weightDecay, maximize: maximize, options: opt with { Rounding = r }));
        }
    }

    // ---- Stochastic rounding --------------------------------------------------------------------

    /// <summary>
    /// bf16 parameters rounded stochastically: element j of the step gets <c>RandomStream.Bits16(seed, step, FirstIndex + j)</c>,
    /// whatever the thread count (the chunked path passes each chunk's position) or the vector width.
    /// </summary>
    [Theory, MemberData(nameof(Lengths))]
    public void StochasticRounding_Bf16Params_KeyedByElementIndex(int length)
    {
        foreach (var rounding in new[] { new StochasticRounding(seed: 42, step: 3), new StochasticRounding(seed: 0xDEADBEEFCAFEUL, step: 1UL << 40, firstIndex: ulong.MaxValue - 5) })
        {
            Check<BFloat16, BFloat16, float>(length, 3,
                (ref float p, float g, float[] s) => Optimizers.AdamW.Step(ref p, in g, ref s[0], ref s[1], ref s[2], 3, lr: 1e-2),
                (p, g, s, o, n, opt, r) => Optimizers.AdamW.Step(p.AsSpan(o, n), g.AsSpan(o, n), s[0].AsSpan(o, n), s[1].AsSpan(o, n), default, 3, lr: 1e-2, options: opt with { Rounding = r }),
                (p, g, s, c, opt, r) => Optimizers.AdamW.Step(Tensors(p, c), ReadOnlyTensors(g, c), Tensors(s[0], c), Tensors(s[1], c), default, 3, lr: 1e-2, options: opt with { Rounding = r }),
                rounding);
            Check<BFloat16, BFloat16, BFloat16>(length, 1,
                (ref float p, float g, float[] s) => Optimizers.Lion.Step(ref p, in g, ref s[0], lr: 1e-3, weightDecay: 0.1),
                (p, g, s, o, n, opt, r) => Optimizers.Lion.Step(p.AsSpan(o, n), g.AsSpan(o, n), s[0].AsSpan(o, n), lr: 1e-3, weightDecay: 0.1, options: opt with { Rounding = r }),
                (p, g, s, c, opt, r) => Optimizers.Lion.Step(Tensors(p, c), ReadOnlyTensors(g, c), Tensors(s[0], c), lr: 1e-3, weightDecay: 0.1, options: opt with { Rounding = r }),
                rounding);
        }
    }

    [Fact]
    public void StochasticRounding_PiecesWithSkip_EqualOneCall()
    {
        const int n = 3000;
        var random = new Random(5);
        BFloat16[] p0 = SpecialValues.Floats(random, n, special: false).Select(f => (BFloat16)f).ToArray();
        BFloat16[] g = SpecialValues.Floats(random, n, special: false).Select(f => (BFloat16)f).ToArray();
        float[] m0 = SpecialValues.Floats(random, n, special: false);
        var rounding = new StochasticRounding(seed: 9, step: 4);

        BFloat16[] whole = (BFloat16[])p0.Clone(), pieces = (BFloat16[])p0.Clone(), nearest = (BFloat16[])p0.Clone();
        float[] m1 = (float[])m0.Clone(), m2 = (float[])m0.Clone(), m3 = (float[])m0.Clone();
        Optimizers.SGD.Step(whole.AsSpan(), g, m1.AsSpan(), 0.1, 2, momentum: 0.9, options: new() { Rounding = rounding });
        Optimizers.SGD.Step(pieces.AsSpan(0, 1001), g.AsSpan(0, 1001), m2.AsSpan(0, 1001), 0.1, 2, momentum: 0.9, options: new() { Rounding = rounding });
        Optimizers.SGD.Step(pieces.AsSpan(1001), g.AsSpan(1001), m2.AsSpan(1001), 0.1, 2, momentum: 0.9, options: new() { Rounding = rounding.Skip(1001) });
        Optimizers.SGD.Step(nearest.AsSpan(), g, m3.AsSpan(), 0.1, 2, momentum: 0.9);

        Assert.Equal(whole.Select(b => b.Bits), pieces.Select(b => b.Bits));
        Assert.Equal(m1, m2);
        // Stochastic rounding is applied: it differs from nearest rounding somewhere (about half the inexact elements).
        Assert.InRange(whole.Zip(nearest).Count(x => x.First.Bits != x.Second.Bits), n / 10, n);
    }

    // ---- User rules: masks, a float rule computing in double, a guarded first buffer, the fallback --------

    [Theory, MemberData(nameof(Lengths))]
    public void SelectRule_Masks(int length)
    {
        foreach (bool flag in new[] { false, true })
        {
            Check<BFloat16, Half, BFloat16>(length, 1,
                (ref float x, float g, float[] s) => SelectRule.Update(ref x, in g, ref s[0], 0.25f, flag),
                (p, g, s, o, n, opt, r) => SelectRule.Update(p.AsSpan(o, n), g.AsSpan(o, n), s[0].AsSpan(o, n), 0.25f, flag, opt with { Rounding = r }),
                (p, g, s, c, opt, r) => SelectRule.Update(Tensors(p, c), ReadOnlyTensors(g, c), Tensors(s[0], c), 0.25f, flag, opt with { Rounding = r }),
                new StochasticRounding(1, 2));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void MixedFloatRule_HalfVectors(int length)
    {
        Check<BFloat16, BFloat16, Half>(length, 1,
            (ref float p, float g, float[] s) => MixedFloatRule.Update(ref p, in g, ref s[0], 0.05, 0.9),
            (p, g, s, o, n, opt, r) => MixedFloatRule.Update(p.AsSpan(o, n), g.AsSpan(o, n), s[0].AsSpan(o, n), 0.05, 0.9, opt with { Rounding = r }),
            (p, g, s, c, opt, r) => MixedFloatRule.Update(Tensors(p, c), ReadOnlyTensors(g, c), Tensors(s[0], c), 0.05, 0.9, opt with { Rounding = r }),
            new StochasticRounding(3, 4));
        Check<Half, float, BFloat16>(length, 1,
            (ref float p, float g, float[] s) => MixedFloatRule.Update(ref p, in g, ref s[0]),
            (p, g, s, o, n, opt, r) => MixedFloatRule.Update(p.AsSpan(o, n), g.AsSpan(o, n), s[0].AsSpan(o, n), options: opt with { Rounding = r }),
            (p, g, s, c, opt, r) => MixedFloatRule.Update(Tensors(p, c), ReadOnlyTensors(g, c), Tensors(s[0], c), options: opt with { Rounding = r }));
    }

    [Theory, MemberData(nameof(Lengths))]
    public void FirstBufferGuarded(int length)
    {
        // The parameter (first ref: m) is touched only with momentum; without it, it may be passed empty.
        foreach (bool useMomentum in new[] { false, true })
        {
            Check<BFloat16, BFloat16, BFloat16>(length, 1,
                (ref float m, float g, float[] s) => HardenedRules.FirstBufferGuarded(ref m, ref s[0], in g, useMomentum),
                (p, g, s, o, n, opt, r) => HardenedRules.FirstBufferGuarded(useMomentum ? p.AsSpan(o, n) : default, s[0].AsSpan(o, n), g.AsSpan(o, n), useMomentum, options: opt with { Rounding = r }),
                (p, g, s, c, opt, r) => HardenedRules.FirstBufferGuarded(useMomentum ? Tensors(p, c) : default, Tensors(s[0], c), ReadOnlyTensors(g, c), useMomentum, options: opt with { Rounding = r }),
                new StochasticRounding(7, 1));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void Fallback_RuleItself_WhenUniformPartThrows(int length)
    {
        // k = 0: `100 / k` throws while preparing, but the rule reaches it only where g > 0. With every g <= 0 the
        // overloads run the rule itself element by element (on widened values, rounding back) and throw nothing.
        Check<BFloat16, BFloat16, Half>(length, 1,
            (ref float p, float g, float[] s) => HardenedRules.ThrowsOnlyWhereReached(ref p, in g, ref s[0], 0, -0.5f, 0.5f, true),
            (p, g, s, o, n, opt, r) => HardenedRules.ThrowsOnlyWhereReached(p.AsSpan(o, n), g.AsSpan(o, n), s[0].AsSpan(o, n), 0, -0.5f, 0.5f, true, opt with { Rounding = r }),
            (p, g, s, c, opt, r) => HardenedRules.ThrowsOnlyWhereReached(Tensors(p, c), ReadOnlyTensors(g, c), Tensors(s[0], c), 0, -0.5f, 0.5f, true, opt with { Rounding = r }),
            new StochasticRounding(11, 12), nonPositiveGrad: true);

        // One positive gradient: the step throws what the element loop throws.
        var random = new Random(length);
        BFloat16[] p = SpecialValues.Floats(random, length).Select(f => (BFloat16)f).ToArray();
        BFloat16[] g = Enumerable.Repeat((BFloat16)(-1f), length).ToArray();
        g[random.Next(length)] = BFloat16.One;
        Half[] u = new Half[length];
        Assert.Throws<DivideByZeroException>(() => HardenedRules.ThrowsOnlyWhereReached(p.AsSpan(), g, u.AsSpan(), 0, -0.5f, 0.5f, true));

        // A buffer the configuration does not use (flag false) is not touched by the fallback either: not even a
        // signalling NaN, which a round trip through float would quieten.
        Array.Fill(g, (BFloat16)(-1f));
        BFloat16[] unused = Enumerable.Range(0, length).Select(i => BFloat16.FromBits(i % 2 == 0 ? (ushort)0x7F81 : (ushort)0x3F80)).ToArray();
        BFloat16[] before = (BFloat16[])unused.Clone();
        HardenedRules.ThrowsOnlyWhereReached(p.AsSpan(), g, unused.AsSpan(), 0, -0.5f, 0.5f, false);
        Assert.Equal(before.Select(b => b.Bits), unused.Select(b => b.Bits));
    }

    // ---- Surface ----------------------------------------------------------------------------------

    [Fact]
    public void AllFloat_IsTheFloatOverload()
    {
        var random = new Random(2);
        const int n = 777;
        float[][] a = Enumerable.Range(0, 5).Select(_ => SpecialValues.Floats(random, n)).ToArray();
        float[][] b = a.Select(x => (float[])x.Clone()).ToArray();
        Optimizers.AdamW.Step(a[0].AsSpan(), a[1], a[2].AsSpan(), a[3].AsSpan(), a[4].AsSpan(), 5, amsgrad: true);
        Optimizers.AdamW.Step<float, float, float>(b[0].AsSpan(), b[1], b[2].AsSpan(), b[3].AsSpan(), b[4].AsSpan(), 5, amsgrad: true, options: new() { Rounding = new StochasticRounding(1, 1) });
        for (int k = 0; k < 5; k++)
            Assert.Equal(a[k].Select(BitConverter.SingleToInt32Bits), b[k].Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void UnsupportedStorageType_Throws_NamingTheArgument()
    {
        var p = new double[8];
        var g = new BFloat16[8];
        var m = new float[8];
        var e = Assert.Throws<NotSupportedException>(() => Optimizers.Lion.Step(p.AsSpan(), g, m.AsSpan()));
        Assert.Contains("'param'", e.Message);
        var i = new int[8];
        e = Assert.Throws<NotSupportedException>(() => Optimizers.Lion.Step(new BFloat16[8].AsSpan(), g, i.AsSpan()));
        Assert.Contains("'expAvg'", e.Message);
        Assert.All(p, x => Assert.Equal(0d, x));
    }

    [Fact]
    public void StochasticRounding_OfHalfParams_Throws()
    {
        var p = new Half[8];
        var e = Assert.Throws<NotSupportedException>(() => Optimizers.Lion.Step(p.AsSpan(), new Half[8], new float[8].AsSpan(), options: new() { Rounding = new StochasticRounding(1, 1) }));
        Assert.Contains("'param'", e.Message);
        // Nearest rounding of fp16 parameters is fine.
        Optimizers.Lion.Step(p.AsSpan(), new Half[8], new float[8].AsSpan());
    }

    [Fact]
    public void LengthsAndOverlap_AreChecked_AcrossTypes()
    {
        var e = Assert.Throws<ArgumentException>(() => Optimizers.Lion.Step(new BFloat16[8].AsSpan(), new BFloat16[7], new float[8].AsSpan()));
        Assert.Equal("grad", e.ParamName);
        // A float state buffer over the bytes of the bf16 parameters.
        var shared = new BFloat16[32];
        e = Assert.Throws<ArgumentException>(() => Optimizers.Lion.Step(shared.AsSpan(0, 16), new BFloat16[16], MemoryMarshal.Cast<BFloat16, float>(shared.AsSpan()).Slice(0, 16)));
        Assert.Equal("expAvg", e.ParamName);
        // Multi-tensor: a tensor whose buffers differ in length.
        e = Assert.Throws<ArgumentException>(() => Optimizers.Lion.Step(new[] { new Memory<BFloat16>(new BFloat16[4]) }, new[] { new ReadOnlyMemory<BFloat16>(new BFloat16[4]) }, new[] { new Memory<float>(new float[3]) }));
        Assert.Equal("expAvg", e.ParamName);
    }

    // ---- Harness ----------------------------------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="spans"/> and <paramref name="tensors"/> on random buffers of the storage types, for every offset and
    /// thread option, and compares every element of every buffer with the reference loop over <paramref name="scalar"/>.
    /// </summary>
    private static void Check<TP, TG, TS>(int length, int stateCount, ScalarRule scalar, SpanRule<TP, TG, TS> spans, MultiRule<TP, TG, TS> tensors,
        StochasticRounding rounding = default, bool nonPositiveGrad = false)
        where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        foreach (int offset in s_offsets)
        {
            foreach (StepOptions options in BitExact.ThreadOptions)
            {
                var random = new Random(length * 31 + offset);
                int total = length + offset + 5;
                TP[] param = Narrow<TP>(SpecialValues.Floats(random, total));
                TG[] grad = Narrow<TG>(SpecialValues.Floats(random, total).Select(g => nonPositiveGrad ? -MathF.Abs(g) : g).ToArray());
                TS[][] state = Enumerable.Range(0, stateCount).Select(_ => Narrow<TS>(SpecialValues.Floats(random, total))).ToArray();

                // The definition: widen, call the rule, round back every buffer it may assign.
                TP[] expectedParam = (TP[])param.Clone();
                TS[][] expectedState = state.Select(s => (TS[])s.Clone()).ToArray();
                var values = new float[stateCount];
                for (int i = offset; i < offset + length; i++)
                {
                    float p = Widen(expectedParam[i]), g = Widen(grad[i]);
                    for (int k = 0; k < stateCount; k++)
                        values[k] = Widen(expectedState[k][i]);
                    scalar(ref p, g, values);
                    expectedParam[i] = rounding.IsEnabled && typeof(TP) == typeof(BFloat16)
                        ? (TP)(object)BFloat16.RoundStochastic(p, RandomStream.Bits16(rounding.Seed, rounding.Step, rounding.FirstIndex + (ulong)(i - offset)))
                        : Narrow<TP>(p);
                    for (int k = 0; k < stateCount; k++)
                        expectedState[k][i] = Narrow<TS>(values[k]);
                }

                TP[] actualParam = (TP[])param.Clone();
                TS[][] actualState = state.Select(s => (TS[])s.Clone()).ToArray();
                spans(actualParam, grad, actualState, offset, length, options, rounding);
                string where = $"span overload, offset {offset}, length {length}, threads {options.MaxDegreeOfParallelism}";
                Compare(expectedParam, actualParam, "param", where);
                for (int k = 0; k < stateCount; k++)
                    Compare(expectedState[k], actualState[k], $"state {k}", where);

                // The multi-tensor overload over up to four pieces of the same slice: its index runs on across tensors.
                int[] cuts = Cuts(random, offset, length);
                actualParam = (TP[])param.Clone();
                actualState = state.Select(s => (TS[])s.Clone()).ToArray();
                tensors(actualParam, grad, actualState, cuts, options, rounding);
                where = $"multi-tensor overload, cuts {string.Join(",", cuts)}, threads {options.MaxDegreeOfParallelism}";
                Compare(expectedParam, actualParam, "param", where);
                for (int k = 0; k < stateCount; k++)
                    Compare(expectedState[k], actualState[k], $"state {k}", where);
            }
        }
    }

    private static int[] Cuts(Random random, int offset, int length)
    {
        int pieces = Math.Min(length, random.Next(1, 5));
        var inner = Enumerable.Range(0, pieces - 1).Select(_ => offset + random.Next(1, length)).Distinct().OrderBy(x => x);
        return new[] { offset }.Concat(inner).Append(offset + length).ToArray();
    }

    private static Memory<T>[] Tensors<T>(T[] x, int[] cuts) =>
        Enumerable.Range(0, cuts.Length - 1).Select(t => new Memory<T>(x, cuts[t], cuts[t + 1] - cuts[t])).ToArray();

    private static ReadOnlyMemory<T>[] ReadOnlyTensors<T>(T[] x, int[] cuts) =>
        Enumerable.Range(0, cuts.Length - 1).Select(t => new ReadOnlyMemory<T>(x, cuts[t], cuts[t + 1] - cuts[t])).ToArray();

    private static float Widen<T>(T value) => value switch
    {
        float f => f,
        BFloat16 b => (float)b,
        Half h => (float)h,
        _ => throw new NotSupportedException(typeof(T).Name),
    };

    private static T Narrow<T>(float value) =>
        typeof(T) == typeof(float) ? (T)(object)value
        : typeof(T) == typeof(BFloat16) ? (T)(object)(BFloat16)value
        : typeof(T) == typeof(Half) ? (T)(object)(Half)value
        : throw new NotSupportedException(typeof(T).Name);

    private static T[] Narrow<T>(float[] values) => values.Select(Narrow<T>).ToArray();

    /// <summary>The bit pattern, or -1 for any NaN (the NaN allowance).</summary>
    private static long Bits<T>(T value) => value switch
    {
        float f => float.IsNaN(f) ? -1 : BitConverter.SingleToUInt32Bits(f),
        BFloat16 b => BFloat16.IsNaN(b) ? -1 : b.Bits,
        Half h => Half.IsNaN(h) ? -1 : BitConverter.HalfToUInt16Bits(h),
        _ => throw new NotSupportedException(typeof(T).Name),
    };

    private static void Compare<T>(T[] expected, T[] actual, string buffer, string where)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (Bits(expected[i]) != Bits(actual[i]))
            {
                Assert.Fail($"{buffer} ({typeof(T).Name}), element {i} ({where}): reference {expected[i]} (0x{Bits(expected[i]):X}), " +
                    $"overload {actual[i]} (0x{Bits(actual[i]):X}); Vector512 accelerated: {Vector512.IsHardwareAccelerated}, " +
                    $"Vector256: {Vector256.IsHardwareAccelerated}, Vector128: {Vector128.IsHardwareAccelerated}");
            }
        }
    }
}

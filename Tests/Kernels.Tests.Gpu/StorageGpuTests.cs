using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Kernels.Gpu;
using Kernels.Optimizers;
using Kernels.Precision;
using Kernels.Tests.Gpu.Harness;
using Xunit;
using Half = System.Half;

namespace Kernels.Tests.Gpu;

/// <summary>
/// The GPU storage launchers (<c>Step&lt;TParam, TGrad, TState&gt;(stream, ArrayView&lt;TParam&gt; …)</c>) on ILGPU's CPU
/// accelerator against the CPU storage span overload with the same type arguments: every combination of float, bfloat16
/// and fp16 for the parameter, the gradient and the state, at lengths 1, 17, 1000 and 4099, over configurations reaching
/// the rules' flags and guarded buffers, with NaN (quiet, signalling, with payloads), ±∞, float subnormals, fp16
/// subnormals and values that overflow fp16 or bfloat16 among the inputs. Tolerance: none — the same bits, two steps in a row
/// (a NaN where the CPU gives a NaN: see <see cref="AssertSameBits"/>).
/// </summary>
public sealed class StorageGpuTests : IClassFixture<CpuAcceleratorFixture>
{
    private static readonly int[] s_lengths = { 1, 17, 1000, 4099 };
    private static readonly Type[] s_types = { typeof(float), typeof(BFloat16), typeof(Half) };

    private readonly CpuAcceleratorFixture _fixture;

    public StorageGpuTests(CpuAcceleratorFixture fixture) => _fixture = fixture;

    /// <summary>Every (parameter, gradient, state) storage type combination: 27.</summary>
    public static TheoryData<string, string, string> Combinations()
    {
        var data = new TheoryData<string, string, string>();
        foreach (Type p in s_types)
        {
            foreach (Type g in s_types)
            {
                foreach (Type s in s_types)
                    data.Add(p.Name, g.Name, s.Name);
            }
        }
        return data;
    }

    /// <summary>Every (gradient, state) storage type combination under a bfloat16 parameter: 9.</summary>
    public static TheoryData<string, string> Bf16ParamCombinations()
    {
        var data = new TheoryData<string, string>();
        foreach (Type g in s_types)
        {
            foreach (Type s in s_types)
                data.Add(g.Name, s.Name);
        }
        return data;
    }

    /// <summary>Two streams: a small key at step 3, and a large key and step with indices that wrap past 2^64 within the launch.</summary>
    private static readonly StochasticRounding[] s_roundings =
    {
        new(seed: 42, step: 3),
        new(seed: 0xDEAD_BEEF_CAFEUL, step: 1UL << 40, firstIndex: ulong.MaxValue - 5),
    };

    [Theory, MemberData(nameof(Combinations))]
    public void AdamW_kernel_matches_the_cpu_storage_overload(string param, string grad, string state) => Run(nameof(AdamWCase), param, grad, state, default);

    [Theory, MemberData(nameof(Combinations))]
    public void SGD_momentum_kernel_matches_the_cpu_storage_overload(string param, string grad, string state) => Run(nameof(SgdCase), param, grad, state, default);

    [Theory, MemberData(nameof(Combinations))]
    public void Lion_kernel_matches_the_cpu_storage_overload(string param, string grad, string state) => Run(nameof(LionCase), param, grad, state, default);

    [Theory, MemberData(nameof(Combinations))]
    public void RMSprop_kernel_matches_the_cpu_storage_overload(string param, string grad, string state) => Run(nameof(RmspropCase), param, grad, state, default);

    // Stochastic rounding of a bfloat16 parameter: the device computes RandomStream.Bits16 itself, so these compare the two
    // streams as well as the rounding (never hard-coded bits: they hold whatever the stream's layout).

    [Theory, MemberData(nameof(Bf16ParamCombinations))]
    public void AdamW_stochastic_rounding_matches_the_cpu_storage_overload(string grad, string state)
    {
        foreach (StochasticRounding rounding in s_roundings)
            Run(nameof(AdamWCase), nameof(BFloat16), grad, state, rounding);
    }

    [Theory, MemberData(nameof(Bf16ParamCombinations))]
    public void SGD_momentum_stochastic_rounding_matches_the_cpu_storage_overload(string grad, string state)
    {
        foreach (StochasticRounding rounding in s_roundings)
            Run(nameof(SgdCase), nameof(BFloat16), grad, state, rounding);
    }

    [Theory, MemberData(nameof(Bf16ParamCombinations))]
    public void Lion_stochastic_rounding_matches_the_cpu_storage_overload(string grad, string state)
    {
        foreach (StochasticRounding rounding in s_roundings)
            Run(nameof(LionCase), nameof(BFloat16), grad, state, rounding);
    }

    [Theory, MemberData(nameof(Bf16ParamCombinations))]
    public void RMSprop_stochastic_rounding_matches_the_cpu_storage_overload(string grad, string state)
    {
        foreach (StochasticRounding rounding in s_roundings)
            Run(nameof(RmspropCase), nameof(BFloat16), grad, state, rounding);
    }

    [Fact]
    public void Stochastic_rounding_leaves_a_float_parameter_as_it_is()
    {
        // As on the CPU: a float parameter is not rounded; its 16-bit state still is, to nearest.
        Run(nameof(AdamWCase), nameof(Single), nameof(BFloat16), nameof(BFloat16), s_roundings[0]);
        Run(nameof(SgdCase), nameof(Single), nameof(Single), nameof(Half), s_roundings[1]);
    }

    [Fact]
    public void Stochastic_rounding_differs_from_nearest_and_follows_the_seed()
    {
        const int n = 4099;
        var random = new Random(11);
        BFloat16[] p0 = Values<BFloat16>(random, n, nonNegative: false);
        BFloat16[] grad = Values<BFloat16>(random, n, nonNegative: false);
        float[] m0 = Values<float>(random, n, nonNegative: true);
        Accelerator accelerator = _fixture.Accelerator;
        BFloat16[] Step(StochasticRounding rounding)
        {
            using var p = accelerator.Allocate1D(p0);
            using var g = accelerator.Allocate1D(grad);
            using var m = accelerator.Allocate1D(m0);
            SGD.Step(accelerator.DefaultStream, p.View.AsContiguous(), g.View.AsContiguous(), m.View.AsContiguous(), 0.1, 2, momentum: 0.9, options: new() { Rounding = rounding });
            accelerator.Synchronize();
            return p.GetAsArray1D();
        }
        BFloat16[] nearest = Step(default), stochastic = Step(s_roundings[0]), again = Step(s_roundings[0]), reseeded = Step(new StochasticRounding(43, 3));
        int Differences(BFloat16[] a, BFloat16[] b) => a.Zip(b).Count(x => x.First.Bits != x.Second.Bits);
        Assert.Equal(0, Differences(stochastic, again));
        Assert.InRange(Differences(stochastic, nearest), n / 10, n);
        Assert.InRange(Differences(stochastic, reseeded), n / 10, n);
    }

    [Fact]
    public void Stochastic_rounding_of_an_fp16_parameter_is_refused()
    {
        Accelerator accelerator = _fixture.Accelerator;
        using var p = accelerator.Allocate1D(Values<Half>(new Random(1), 17, nonNegative: false));
        using var g = accelerator.Allocate1D(Values<Half>(new Random(2), 17, nonNegative: false));
        using var m = accelerator.Allocate1D(Values<float>(new Random(3), 17, nonNegative: true));
        Half[] before = p.GetAsArray1D();
        var e = Assert.Throws<NotSupportedException>(() => SGD.Step(accelerator.DefaultStream, p.View.AsContiguous(), g.View.AsContiguous(), m.View.AsContiguous(), 0.1, 1, momentum: 0.9, options: new() { Rounding = s_roundings[0] }));
        Assert.Contains("param", e.Message);
        accelerator.Synchronize();
        Assert.Equal(before, p.GetAsArray1D());
    }

    // ---- Many tensors, one launch ---------------------------------------------------------------

    private static readonly long[] s_tensorLengths = { 5, 0, 1000, 1, 2049, 17 };

    /// <summary>(gradient, state) storage types of the multi-tensor tests, under a bfloat16 and an fp16 parameter.</summary>
    public static TheoryData<string, string, string> MultiTensorCombinations() => new()
    {
        { nameof(BFloat16), nameof(BFloat16), nameof(Single) },
        { nameof(BFloat16), nameof(BFloat16), nameof(BFloat16) },
        { nameof(BFloat16), nameof(Half), nameof(Half) },
        { nameof(BFloat16), nameof(Single), nameof(BFloat16) },
        { nameof(Half), nameof(Half), nameof(Single) },
        { nameof(Single), nameof(BFloat16), nameof(Half) },
    };

    [Theory, MemberData(nameof(MultiTensorCombinations))]
    public void Multi_tensor_storage_launch_matches_the_cpu_tensor_by_tensor(string param, string grad, string state)
    {
        foreach (StochasticRounding rounding in param == nameof(BFloat16) ? s_roundings.Prepend(default) : new[] { default(StochasticRounding) })
        {
            Type Named(string name) => s_types.Single(t => t.Name == name);
            typeof(StorageGpuTests).GetMethod(nameof(MultiTensorAdamW), BindingFlags.NonPublic | BindingFlags.Instance)!
                .MakeGenericMethod(Named(param), Named(grad), Named(state)).Invoke(this, new object[] { rounding });
        }
    }

    /// <summary>
    /// AdamW over packed tensors, each with its own values (learning rate, weight decay, step, amsgrad for some), against the
    /// CPU storage span overload tensor by tensor with <c>rounding.Skip(offset)</c> — the index in the concatenation, as the
    /// CPU multi-tensor overload counts; and, with one set of values for every tensor, against that overload itself.
    /// </summary>
    private void MultiTensorAdamW<TP, TG, TS>(StochasticRounding rounding) where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        Accelerator accelerator = _fixture.Accelerator;
        int total = (int)s_tensorLengths.Sum();
        var random = new Random(7);
        TP[] param = Values<TP>(random, total, nonNegative: false);
        TG[] grad = Values<TG>(random, total, nonNegative: false);
        TS[][] state = Enumerable.Range(0, 3).Select(_ => Values<TS>(random, total, nonNegative: true)).ToArray();
        using var table = new GpuTensorTable(accelerator, s_tensorLengths);

        // Each tensor with its own values.
        var configurations = s_tensorLengths.Select((_, t) => (step: 1 + t, lr: 1e-3 * (t + 1), weightDecay: t % 2 == 0 ? 0.0 : 0.01, amsgrad: t % 3 == 1)).ToArray();
        TP[] expectedParam = (TP[])param.Clone();
        TS[][] expectedState = state.Select(a => (TS[])a.Clone()).ToArray();
        int offset = 0;
        for (int t = 0; t < s_tensorLengths.Length; t++)
        {
            int n = (int)s_tensorLengths[t];
            var c = configurations[t];
            AdamW.Step(expectedParam.AsSpan(offset, n), grad.AsSpan(offset, n), expectedState[0].AsSpan(offset, n), expectedState[1].AsSpan(offset, n),
                c.amsgrad ? expectedState[2].AsSpan(offset, n) : default, c.step, c.lr, weightDecay: c.weightDecay, amsgrad: c.amsgrad,
                options: new() { Rounding = rounding.Skip((ulong)offset) });
            offset += n;
        }
        var perTensor = configurations.Select(c => AdamWStepGpu.Prepare(c.step, c.lr, weightDecay: c.weightDecay, amsgrad: c.amsgrad)).ToArray();
        RunPacked(table, param, grad, state, perTensor, rounding, expectedParam, expectedState, $"{rounding}, per-tensor values");

        // One set of values: the CPU multi-tensor storage overload over the same tensors.
        expectedParam = (TP[])param.Clone();
        expectedState = state.Select(a => (TS[])a.Clone()).ToArray();
        Memory<T>[] Tensors<T>(T[] packed)
        {
            var tensors = new Memory<T>[s_tensorLengths.Length];
            for (int t = 0, start = 0; t < tensors.Length; start += (int)s_tensorLengths[t], t++)
                tensors[t] = packed.AsMemory(start, (int)s_tensorLengths[t]);
            return tensors;
        }
        AdamW.Step(Tensors(expectedParam), Tensors(grad).Select(m => (ReadOnlyMemory<TG>)m).ToArray(), Tensors(expectedState[0]), Tensors(expectedState[1]), Tensors(expectedState[2]),
            4, 1e-2, weightDecay: 0.05, amsgrad: true, options: new() { Rounding = rounding });
        perTensor = s_tensorLengths.Select(_ => AdamWStepGpu.Prepare(4, 1e-2, weightDecay: 0.05, amsgrad: true)).ToArray();
        RunPacked(table, param, grad, state, perTensor, rounding, expectedParam, expectedState, $"{rounding}, shared values");
    }

    private void RunPacked<TP, TG, TS>(GpuTensorTable table, TP[] param, TG[] grad, TS[][] state, AdamWStepGpu.Inputs[] perTensor, StochasticRounding rounding,
        TP[] expectedParam, TS[][] expectedState, string what)
        where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        Accelerator accelerator = _fixture.Accelerator;
        using var p = accelerator.Allocate1D(param);
        using var g = accelerator.Allocate1D(grad);
        using var m = accelerator.Allocate1D(state[0]);
        using var v = accelerator.Allocate1D(state[1]);
        using var max = accelerator.Allocate1D(state[2]);
        AdamW.Step(accelerator.DefaultStream, table, p.View.AsContiguous(), g.View.AsContiguous(), m.View.AsContiguous(), v.View.AsContiguous(), max.View.AsContiguous(), perTensor, new() { Rounding = rounding });
        accelerator.Synchronize();
        string where = $"multi-tensor AdamW, {what}, {typeof(TP).Name}/{typeof(TG).Name}/{typeof(TS).Name}";
        AssertSameBits(expectedParam, p.GetAsArray1D(), where + ", param");
        AssertSameBits(expectedState[0], m.GetAsArray1D(), where + ", expAvg");
        AssertSameBits(expectedState[1], v.GetAsArray1D(), where + ", expAvgSq");
        AssertSameBits(expectedState[2], max.GetAsArray1D(), where + ", maxExpAvgSq");
    }

    [Fact]
    public void Float_views_bind_the_float_launchers()
    {
        // ArrayView<float> arguments: the non-generic float launchers win overload resolution (the generic ones have the
        // same parameter lists, StepOptions included); this compiles only if the calls are not ambiguous.
        Accelerator accelerator = _fixture.Accelerator;
        using var table = new GpuTensorTable(accelerator, new long[] { 3, 4 });
        using var buffers = new DisposableBuffers(Enumerable.Range(0, 5).Select(i => accelerator.Allocate1D(Values<float>(new Random(i), 7, nonNegative: i >= 2))).ToArray());
        ArrayView<float> p = buffers[0], g = buffers[1], m = buffers[2], v = buffers[3], max = buffers[4];
        AdamW.Step(accelerator.DefaultStream, p, g, m, v, default, step: 1, lr: 1e-3);
        AdamW.Step(accelerator.DefaultStream, p, g, m, v, max, 2, 1e-3, amsgrad: true, options: new() { Rounding = s_roundings[0] });
        AdamW.Step(accelerator.DefaultStream, table, p, g, m, v, default, new[] { AdamWStepGpu.Prepare(3), AdamWStepGpu.Prepare(3) });
        accelerator.Synchronize();
    }

    private sealed class DisposableBuffers(MemoryBuffer1D<float, Stride1D.Dense>[] buffers) : IDisposable
    {
        public ArrayView<float> this[int i] => buffers[i].View;

        public void Dispose()
        {
            foreach (var b in buffers)
                b.Dispose();
        }
    }

    [Fact]
    public void Multi_tensor_storage_launch_checks_its_arguments()
    {
        Accelerator accelerator = _fixture.Accelerator;
        using var table = new GpuTensorTable(accelerator, new long[] { 10, 7 });
        using var p = accelerator.Allocate1D<BFloat16>(17);
        using var g = accelerator.Allocate1D<Half>(16);
        using var m = accelerator.Allocate1D<float>(17);
        var two = new[] { SGDStepGpu.Prepare(0.1, 1, momentum: 0.9), SGDStepGpu.Prepare(0.1, 1, momentum: 0.9) };
        var e = Assert.Throws<ArgumentException>(() => SGD.Step(accelerator.DefaultStream, table, p.View.AsContiguous(), g.View.AsContiguous(), m.View.AsContiguous(), two));
        Assert.Equal("grad", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => SGD.Step(accelerator.DefaultStream, table, p.View.AsContiguous(), g.View.AsContiguous().SubView(0, 16), m.View.AsContiguous(), two.Take(1).ToArray()));
        Assert.Equal("perTensor", e.ParamName);
        using var h = accelerator.Allocate1D<Half>(17);
        using var hg = accelerator.Allocate1D<Half>(17);
        Assert.Throws<NotSupportedException>(() => SGD.Step(accelerator.DefaultStream, table, h.View.AsContiguous(), hg.View.AsContiguous(), m.View.AsContiguous(), two, new() { Rounding = new StochasticRounding(1, 1) }));
    }

    private void Run(string @case, string param, string grad, string state, StochasticRounding rounding)
    {
        Type Named(string name) => s_types.Single(t => t.Name == name);
        MethodInfo method = typeof(StorageGpuTests).GetMethod(@case, BindingFlags.NonPublic | BindingFlags.Instance)!;
        method.MakeGenericMethod(Named(param), Named(grad), Named(state)).Invoke(this, new object[] { rounding });
    }

    // ---- The rules ------------------------------------------------------------------------------

    private void AdamWCase<TP, TG, TS>(StochasticRounding rounding) where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        foreach (var (step, weightDecay, amsgrad, maximize) in new[] { (1, 1e-2, false, false), (7, 0.05, true, false), (2, 0.0, true, true) })
        {
            Check<TP, TG, TS>(3, $"{rounding}, AdamW step {step}, wd {weightDecay}, amsgrad {amsgrad}, maximize {maximize}",
                (p, g, s) => AdamW.Step(p, g, s[0].AsSpan(), s[1].AsSpan(), amsgrad ? s[2].AsSpan() : default, step, lr: 1e-2, weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, options: new() { Rounding = rounding }),
                (stream, p, g, s) => AdamW.Step(stream, p, g, s[0], s[1], amsgrad ? s[2] : default, step, lr: 1e-2, weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, options: new() { Rounding = rounding }));
        }
    }

    private void SgdCase<TP, TG, TS>(StochasticRounding rounding) where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        // Without momentum the state buffer is unused (passed empty): the launcher hands the kernel a reinterpreted stand-in.
        foreach (var (step, momentum, weightDecay, nesterov, maximize) in new[] { (1, 0.9, 0.0, false, false), (3, 0.9, 1e-2, true, false), (2, 0.9, 1e-2, false, true), (2, 0.0, 1e-2, false, false) })
        {
            Check<TP, TG, TS>(1, $"{rounding}, SGD step {step}, momentum {momentum}, wd {weightDecay}, nesterov {nesterov}, maximize {maximize}",
                (p, g, s) => SGD.Step(p, g, momentum != 0 ? s[0].AsSpan() : Span<TS>.Empty, 0.01, step, momentum: momentum, dampening: 0.1, weightDecay: weightDecay, nesterov: nesterov, maximize: maximize, options: new() { Rounding = rounding }),
                (stream, p, g, s) => SGD.Step(stream, p, g, momentum != 0 ? s[0] : default, 0.01, step, momentum: momentum, dampening: 0.1, weightDecay: weightDecay, nesterov: nesterov, maximize: maximize, options: new() { Rounding = rounding }));
        }
    }

    private void LionCase<TP, TG, TS>(StochasticRounding rounding) where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        foreach (var (weightDecay, maximize) in new[] { (0.0, false), (0.1, true) })
        {
            Check<TP, TG, TS>(1, $"{rounding}, Lion wd {weightDecay}, maximize {maximize}",
                (p, g, s) => Lion.Step(p, g, s[0].AsSpan(), lr: 1e-2, weightDecay: weightDecay, maximize: maximize, options: new() { Rounding = rounding }),
                (stream, p, g, s) => Lion.Step(stream, p, g, s[0], lr: 1e-2, weightDecay: weightDecay, maximize: maximize, options: new() { Rounding = rounding }));
        }
    }

    private void RmspropCase<TP, TG, TS>(StochasticRounding rounding) where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        // centered and momentum decide, per call, whether gradAvg and momentumBuffer are used at all (guarded buffers).
        foreach (var (momentum, centered) in new[] { (0.0, false), (0.9, true), (0.5, false) })
        {
            Check<TP, TG, TS>(3, $"{rounding}, RMSprop momentum {momentum}, centered {centered}",
                (p, g, s) => RMSprop.Step(p, g, s[0].AsSpan(), centered ? s[1].AsSpan() : default, momentum != 0 ? s[2].AsSpan() : default, lr: 1e-2, momentum: momentum, centered: centered, options: new() { Rounding = rounding }),
                (stream, p, g, s) => RMSprop.Step(stream, p, g, s[0], centered ? s[1] : default, momentum != 0 ? s[2] : default, lr: 1e-2, momentum: momentum, centered: centered, options: new() { Rounding = rounding }));
        }
    }

    // ---- The comparison -------------------------------------------------------------------------

    private delegate void CpuStep<TP, TG, TS>(Span<TP> param, ReadOnlySpan<TG> grad, TS[][] state);

    private delegate void GpuStep<TP, TG, TS>(AcceleratorStream stream, ArrayView<TP> param, ArrayView<TG> grad, ArrayView<TS>[] state)
        where TP : unmanaged where TG : unmanaged where TS : unmanaged;

    private void Check<TP, TG, TS>(int stateCount, string what, CpuStep<TP, TG, TS> cpu, GpuStep<TP, TG, TS> gpu)
        where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        Accelerator accelerator = _fixture.Accelerator;
        int seed = 0;
        foreach (int length in s_lengths)
        {
            var random = new Random(++seed);
            TP[] param = Values<TP>(random, length, nonNegative: false);
            TG[] grad = Values<TG>(random, length, nonNegative: false);
            TS[][] state = Enumerable.Range(0, stateCount).Select(_ => Values<TS>(random, length, nonNegative: true)).ToArray();

            using var p = accelerator.Allocate1D(param);
            using var g = accelerator.Allocate1D(grad);
            var s = state.Select(a => accelerator.Allocate1D(a)).ToArray();
            try
            {
                for (int step = 0; step < 2; step++)
                {
                    cpu(param, grad, state);
                    gpu(accelerator.DefaultStream, p.View, g.View, s.Select(b => (ArrayView<TS>)b.View).ToArray());
                }
                accelerator.Synchronize();
                string where = $"{what}, {typeof(TP).Name}/{typeof(TG).Name}/{typeof(TS).Name}, length {length}";
                AssertSameBits(param, p.GetAsArray1D(), where + ", param");
                AssertSameBits(grad, g.GetAsArray1D(), where + ", grad");
                for (int k = 0; k < stateCount; k++)
                    AssertSameBits(state[k], s[k].GetAsArray1D(), where + $", state {k}");
            }
            finally
            {
                foreach (var b in s)
                    b.Dispose();
            }
        }
    }

    /// <summary>Initial values: mostly in [-1, 1] (state non-negative), with special values at fixed strides.</summary>
    internal static T[] Values<T>(Random random, int length, bool nonNegative) where T : unmanaged
    {
        var values = new T[length];
        for (int i = 0; i < length; i++)
        {
            double v = random.NextDouble() * 2 - 1;
            float f = (float)(nonNegative ? Math.Abs(v) * 0.1 + 1e-3 : v);
            if (i % 7 == 3)
                f = s_specials[(i / 7) % s_specials.Length];
            values[i] = From<T>(f);
        }
        return values;
    }

    private static readonly float[] s_specials =
    {
        float.NaN,
        BitConverter.UInt32BitsToSingle(0x7FC1_2345),   // quiet NaN, payload
        BitConverter.UInt32BitsToSingle(0xFF80_0001),   // signalling NaN, negative
        BitConverter.UInt32BitsToSingle(0x7FA0_0000),   // signalling NaN, payload in the bits bfloat16 and fp16 keep
        float.PositiveInfinity, float.NegativeInfinity,
        1e-40f, -1.4e-45f,                               // float subnormals
        3e-6f, -6e-8f, 2.98e-8f,                         // fp16 subnormals, and the fp16 rounding to 0 or to the smallest subnormal
        65519f, 65520f, -70000f,                         // fp16: largest finite by rounding, the first value rounding to ∞, beyond
        3.4e38f, float.MaxValue,                         // bfloat16: finite and rounding to ∞
        0f, -0f, 1f, -1e-3f,
    };

    internal static T From<T>(float value) where T : unmanaged =>
        typeof(T) == typeof(float) ? (T)(object)value
        : typeof(T) == typeof(BFloat16) ? (T)(object)(BFloat16)value
        : typeof(T) == typeof(Half) ? (T)(object)(Half)value
        : throw new NotSupportedException(typeof(T).ToString());

    internal static ulong BitsOf<T>(T value) where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value));
        ulong bits = 0;
        for (int i = bytes.Length - 1; i >= 0; i--)
            bits = (bits << 8) | bytes[i];
        return bits;
    }

    internal static bool IsNaN<T>(T value) where T : unmanaged => value switch
    {
        float f => float.IsNaN(f),
        BFloat16 b => BFloat16.IsNaN(b),
        Half h => Half.IsNaN(h),
        _ => throw new NotSupportedException(typeof(T).ToString()),
    };

    /// <summary>
    /// The same bits, except that where the CPU gives a NaN the kernel may give another NaN: which operand's payload (and
    /// sign) an operation passes on is the instruction's choice, and differs between the CPU overload's own vector widths
    /// (the scalar and vector FMA forms order their operands differently). The conversions themselves keep payloads
    /// exactly (<see cref="GpuStorageConversionTests"/>).
    /// </summary>
    internal static void AssertSameBits<T>(T[] expected, T[] actual, string what) where T : unmanaged
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitsOf(expected[i]) != BitsOf(actual[i]) && !(IsNaN(expected[i]) && IsNaN(actual[i])))
                Assert.Fail($"{what}, element {i}: expected {expected[i]} (0x{BitsOf(expected[i]):X}), got {actual[i]} (0x{BitsOf(actual[i]):X}).");
        }
    }
}

/// <summary>The storage launchers' host-side checks: the float launchers' (naming the argument, nothing written), and the CPU storage overload's type checks.</summary>
public sealed class StorageArgumentCheckTests : IClassFixture<CpuAcceleratorFixture>, IDisposable
{
    private const int N = 257;
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly MemoryBuffer1D<BFloat16, Stride1D.Dense> _param, _grad, _short;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _expAvg, _expAvgSq, _max;

    public StorageArgumentCheckTests(CpuAcceleratorFixture fixture)
    {
        _accelerator = fixture.Accelerator;
        _stream = _accelerator.DefaultStream;
        BFloat16[] Bf16(int n, float start) => Enumerable.Range(0, n).Select(i => (BFloat16)(start + i * 1e-2f)).ToArray();
        float[] Floats(int n, float start) => Enumerable.Range(0, n).Select(i => start + i * 1e-3f).ToArray();
        _param = _accelerator.Allocate1D(Bf16(N, 1));
        _grad = _accelerator.Allocate1D(Bf16(N, 2));
        _short = _accelerator.Allocate1D(Bf16(N - 1, 3));
        _expAvg = _accelerator.Allocate1D(Floats(N, 4));
        _expAvgSq = _accelerator.Allocate1D(Floats(N, 5));
        _max = _accelerator.Allocate1D(Floats(2 * N, 6));
    }

    public void Dispose()
    {
        foreach (MemoryBuffer b in new MemoryBuffer[] { _param, _grad, _short, _expAvg, _expAvgSq, _max })
            b.Dispose();
    }

    private ulong[][] Snapshot() => new[]
    {
        _param.GetAsArray1D().Select(b => (ulong)b.Bits).ToArray(), _grad.GetAsArray1D().Select(b => (ulong)b.Bits).ToArray(),
        _short.GetAsArray1D().Select(b => (ulong)b.Bits).ToArray(), _expAvg.GetAsArray1D().Select(f => (ulong)BitConverter.SingleToUInt32Bits(f)).ToArray(),
        _expAvgSq.GetAsArray1D().Select(f => (ulong)BitConverter.SingleToUInt32Bits(f)).ToArray(), _max.GetAsArray1D().Select(f => (ulong)BitConverter.SingleToUInt32Bits(f)).ToArray(),
    };

    private void AssertRejected<TException>(string parameter, Action launch) where TException : Exception
    {
        ulong[][] before = Snapshot();
        var e = Assert.ThrowsAny<TException>(launch);
        Assert.Contains(parameter, e.Message);
        if (e is ArgumentException argument)
            Assert.Equal(parameter, argument.ParamName);
        _accelerator.Synchronize();
        ulong[][] after = Snapshot();
        for (int b = 0; b < before.Length; b++)
            Assert.Equal(before[b], after[b]); // nothing written
    }

    [Fact]
    public void Length_mismatch_names_the_view()
    {
        AssertRejected<ArgumentException>("grad", () => AdamW.Step(_stream, _param.View.AsContiguous(), _short.View.AsContiguous(), _expAvg.View.AsContiguous(), _expAvgSq.View.AsContiguous(), default, step: 1));
        AssertRejected<ArgumentException>("maxExpAvgSq", () => AdamW.Step(_stream, _param.View.AsContiguous(), _grad.View.AsContiguous(), _expAvg.View.AsContiguous(), _expAvgSq.View.AsContiguous(), _max.View.AsContiguous(), step: 1, amsgrad: true));
    }

    [Fact]
    public void Unsupported_storage_type_names_the_view()
    {
        using var ints = _accelerator.Allocate1D<int>(N);
        using var doubles = _accelerator.Allocate1D<double>(N);
        AssertRejected<NotSupportedException>("grad", () => SGD.Step(_stream, _param.View.AsContiguous(), ints.View.AsContiguous(), _expAvg.View.AsContiguous(), lr: 0.1, step: 1, momentum: 0.9));
        AssertRejected<NotSupportedException>("momentumBuffer", () => SGD.Step(_stream, _param.View.AsContiguous(), _grad.View.AsContiguous(), doubles.View.AsContiguous(), lr: 0.1, step: 1, momentum: 0.9));
    }

    [Fact]
    public void Overlap_is_found_across_element_types()
    {
        // A bfloat16 view over the bytes of a float buffer the step also writes.
        ArrayView<BFloat16> aliased = _max.View.AsContiguous().Cast<BFloat16>().SubView(0, N);
        ArrayView<float> max = _max.View.AsContiguous();
        AssertRejected<ArgumentException>("expAvg", () => AdamW.Step(_stream, aliased, _grad.View.AsContiguous(), max.SubView(100, N), _expAvgSq.View.AsContiguous(), default, step: 1));
        // Disjoint bytes of the same buffer are fine.
        AdamW.Step(_stream, aliased, _grad.View.AsContiguous(), max.SubView(N, N), _expAvgSq.View.AsContiguous(), default, step: 1);
        _accelerator.Synchronize();
    }

    [Fact]
    public void View_on_another_accelerator_is_rejected()
    {
        using var other = _accelerator.Context.CreateCPUAccelerator(0);
        using var foreign = other.Allocate1D<Half>(N);
        AssertRejected<ArgumentException>("grad", () => AdamW.Step(_stream, _param.View.AsContiguous(), foreign.View.AsContiguous(), _expAvg.View.AsContiguous(), _expAvgSq.View.AsContiguous(), default, step: 1));
    }

    [Fact]
    public void Unused_guarded_view_is_never_touched_and_zero_elements_launch_nothing()
    {
        ulong[] max = Snapshot()[5];
        AdamW.Step(_stream, _param.View.AsContiguous(), _grad.View.AsContiguous(), _expAvg.View.AsContiguous(), _expAvgSq.View.AsContiguous(), default(ArrayView<float>), step: 1);
        AdamW.Step(_stream, _param.View.AsContiguous(), _grad.View.AsContiguous(), _expAvg.View.AsContiguous(), _expAvgSq.View.AsContiguous(), _max.View.AsContiguous(), step: 2);
        _accelerator.Synchronize();
        Assert.Equal(max, Snapshot()[5]);
        Assert.Throws<ArgumentNullException>(() => AdamW.Step(null!, _param.View.AsContiguous(), _grad.View.AsContiguous(), _expAvg.View.AsContiguous(), _expAvgSq.View.AsContiguous(), default, step: 1));
        AdamW.Step(_stream, default(ArrayView<BFloat16>), default(ArrayView<Half>), default(ArrayView<float>), default, default, step: 1);
    }
}

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kernels.Optimizers;
using Kernels.Precision;
using Kernels.Training;
using Xunit;

namespace Kernels.Tests.Training;

/// <summary>
/// <see cref="ParameterPrecision.Compensated"/>: each step is, bit for bit, the rule's public storage overload on the float
/// value <c>p + c</c> followed by <c>p = round(v)</c>, <c>c = round(v - p)</c> written out here with the scalar
/// conversions; the bits do not depend on the thread count (float or 8-bit state); updates below the parameter's
/// resolution accumulate (against a float run, where rounding to nearest stalls); the compensation is state — memory
/// report, state dict, checkpoint — and combinations that make no sense are refused by name.
/// </summary>
public sealed class CompensatedParameterTests
{
    private static readonly int[] Lengths = { 100, 1000, 40_000 };   // under a vector block, not a multiple of 256, several chunks

    private static Parameter<T> Tensor<T>(string name, int length, int seed) where T : unmanaged
    {
        var p = new Parameter<T>(name, length);
        var random = new Random(seed);
        for (int i = 0; i < length; i++)
            p.Data.Span[i] = From<T>((float)(random.NextDouble() - 0.5));
        return p;
    }

    private static T From<T>(float value) where T : unmanaged =>
        typeof(T) == typeof(BFloat16) ? (T)(object)(BFloat16)value : (T)(object)(Half)value;

    private static float ToFloat<T>(T value) where T : unmanaged =>
        value is BFloat16 b ? (float)b : (float)(Half)(object)value;

    private static ushort Bits<T>(T value) where T : unmanaged =>
        value is BFloat16 b ? b.Bits : BitConverter.HalfToUInt16Bits((Half)(object)value);

    private static void Gradients<T>(IEnumerable<Parameter<T>> parameters, int step) where T : unmanaged
    {
        int k = 0;
        foreach (Parameter<T> p in parameters)
        {
            var random = new Random(step * 101 + k++);
            for (int i = 0; i < p.Length; i++)
                p.Grad.Span[i] = From<T>((float)((random.NextDouble() - 0.5) * (i % 97 == 0 ? 20 : 1)));
        }
    }

    private static void AssertSameBits<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, string what) where T : unmanaged
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Bits(expected[i]) == Bits(actual[i]), $"{what} element {i}: expected {ToFloat(expected[i]):R}, got {ToFloat(actual[i]):R}");
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(3, false)]
    [InlineData(1, true)]
    [InlineData(3, true)]
    public void Step_IsTheStorageOverloadOnPPlusC_SplitBack(int threads, bool half) =>
        (half ? (Action<int>)StorageOverloadOnPPlusC<Half> : StorageOverloadOnPPlusC<BFloat16>)(threads);

    private static void StorageOverloadOnPPlusC<T>(int threads) where T : unmanaged
    {
        List<Parameter<T>> model = Lengths.Select((n, k) => Tensor<T>("p" + k, n, k)).ToList();
        List<Parameter<T>> mirror = Lengths.Select((n, k) => Tensor<T>("p" + k, n, k)).ToList();
        var optimizer = new AdamW.Optimizer(model, lr: 1e-3, weightDecay: 0.1, stepOptions: new StepOptions(threads, parallelThreshold: 1),
            parameterPrecision: ParameterPrecision.Compensated);
        T[][] c = Lengths.Select(n => new T[n]).ToArray();   // zero: +0 in both formats
        float[][] m = Lengths.Select(n => new float[n]).ToArray(), v = Lengths.Select(n => new float[n]).ToArray();
        bool compensationMoved = false;
        for (int step = 1; step <= 6; step++)
        {
            Gradients(model, step);
            Gradients(mirror, step);
            optimizer.Step();
            for (int k = 0; k < mirror.Count; k++)
            {
                Span<T> p = mirror[k].Data.Span;
                var value = new float[p.Length];
                for (int i = 0; i < p.Length; i++)
                    value[i] = ToFloat(p[i]) + ToFloat(c[k][i]);
                AdamW.Step<float, T, float>(value, mirror[k].Grad.Span, m[k], v[k], default, step, lr: 1e-3, weightDecay: 0.1);
                for (int i = 0; i < p.Length; i++)
                {
                    p[i] = From<T>(value[i]);
                    float high = ToFloat(p[i]);
                    c[k][i] = From<T>(float.IsFinite(high) ? value[i] - high : 0f);
                    compensationMoved |= Bits(c[k][i]) != 0;
                }
                AssertSameBits<T>(p, model[k].Data.Span, $"step {step}, {model[k].Name}");
            }
        }
        OptimizerStateDict state = optimizer.StateDict();
        for (int k = 0; k < model.Count; k++)
            AssertSameBits<T>(c[k], (T[])state.State[k]!.Buffers[ParameterPrecision.CompensationStateName], $"compensation of {model[k].Name}");
        Assert.True(compensationMoved);   // else the test could not tell compensation from none
        Assert.Equal((4 + 4 + 2) * 40_000L, optimizer.MemoryReport().Parameters[2].StateBytes);   // m, v and the compensation
    }

    [Fact]
    public void BitsDoNotDependOnThreadCount_WithFullAnd8BitState()
    {
        foreach (StatePrecision? precision in new[] { null, StatePrecision.Blockwise8Bit(minElements: 0) })
        {
            var results = new List<BFloat16[][]>();
            foreach (int threads in new[] { 1, 2, 3 })
            {
                List<Parameter<BFloat16>> model = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
                var optimizer = new AdamW.Optimizer(model, lr: 1e-3, weightDecay: 0.01, stepOptions: new StepOptions(threads, parallelThreshold: 1),
                    statePrecision: precision, parameterPrecision: ParameterPrecision.Compensated);
                for (int step = 1; step <= 3; step++)
                {
                    Gradients(model, step);
                    optimizer.Step();
                }
                results.Add(model.Select(p => p.Data.ToArray()).Concat(
                    optimizer.StateDict().State.Select(s => (BFloat16[])s!.Buffers[ParameterPrecision.CompensationStateName])).ToArray());
            }
            for (int r = 1; r < results.Count; r++)
            {
                for (int k = 0; k < results[0].Length; k++)
                    AssertSameBits<BFloat16>(results[0][k], results[r][k], $"{(precision is null ? "float" : "8-bit")} state, run {r}, tensor {k}");
            }
        }
    }

    [Fact]
    public void TinyUpdates_Accumulate_WhereRoundingToNearestStalls()
    {
        // SGD with lr 1e-4 and gradient 1 from 1.0 for 1,000 steps: each step is below half a bf16 ulp at 1 (2^-9), so
        // rounding to nearest leaves the weight at 1.0 forever. With compensation, p + c follows the float run. Bound:
        // |c| < 2^-9 (half an ulp of p), so each step's rounding of c errs by at most half its ulp, 2^-18: 1,000 steps
        // stay within 1000 · 2^-18 ≈ 3.8e-3 of the float run (0.1 away from where rounding to nearest stalls).
        const int Steps = 1000, Length = 300;
        var nearest = new Parameter<BFloat16>("w", Length);
        var compensated = new Parameter<BFloat16>("w", Length);
        var reference = new Parameter<float>("w", Length);
        nearest.Data.Span.Fill((BFloat16)1f);
        compensated.Data.Span.Fill((BFloat16)1f);
        reference.Data.Span.Fill(1f);
        var plain = new SGD.Optimizer(new[] { nearest }, lr: 1e-4);
        var kahan = new SGD.Optimizer(new[] { compensated }, lr: 1e-4, parameterPrecision: ParameterPrecision.Compensated);
        var exact = new SGD.Optimizer(new[] { reference }, lr: 1e-4);
        for (int step = 0; step < Steps; step++)
        {
            nearest.Grad.Span.Fill((BFloat16)1f);
            compensated.Grad.Span.Fill((BFloat16)1f);
            reference.Grad.Span.Fill(1f);
            plain.Step();
            kahan.Step();
            exact.Step();
        }
        var c = (BFloat16[])kahan.StateDict().State[0]!.Buffers[ParameterPrecision.CompensationStateName];
        for (int i = 0; i < Length; i++)
        {
            Assert.Equal(1f, (float)nearest.Data.Span[i]);
            float value = (float)compensated.Data.Span[i] + (float)c[i];
            Assert.InRange(Math.Abs(value - reference.Data.Span[i]), 0f, Steps * MathF.Pow(2, -18));
        }
        Assert.InRange(reference.Data.Span[0], 0.8999f, 0.9001f);
    }

    [Fact]
    public void NonFiniteValues_LeaveAZeroCompensation()
    {
        // A gradient of +∞ under SGD drives the weight to -∞; the compensation must stay 0 (∞ - ∞ would make p + c NaN).
        var w = new Parameter<BFloat16>("w", 40);
        w.Data.Span.Fill((BFloat16)0.5f);
        var optimizer = new SGD.Optimizer(new[] { w }, lr: 0.1, parameterPrecision: ParameterPrecision.Compensated);
        w.Grad.Span.Fill((BFloat16)float.PositiveInfinity);
        w.Grad.Span[3] = (BFloat16)float.NaN;
        optimizer.Step();
        var c = (BFloat16[])optimizer.StateDict().State[0]!.Buffers[ParameterPrecision.CompensationStateName];
        for (int i = 0; i < w.Length; i++)
        {
            Assert.Equal(0, c[i].Bits & 0x7FFF);
            Assert.True(i == 3 ? float.IsNaN((float)w.Data.Span[i]) : float.IsNegativeInfinity((float)w.Data.Span[i]));
        }
    }

    [Fact]
    public void Checkpoint_RoundTripsBitExactly_AndAnOptimizerWithoutCompensationRefusesTheState()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kernels-compensated-{Guid.NewGuid():N}.safetensors");
        try
        {
            List<Parameter<BFloat16>> model = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
            var optimizer = new AdamW.Optimizer(model, lr: 1e-3, statePrecision: StatePrecision.Blockwise8Bit(minElements: 500),
                parameterPrecision: ParameterPrecision.Compensated);
            for (int step = 1; step <= 3; step++)
            {
                Gradients(model, step);
                optimizer.Step();
            }
            Checkpoint.Save(path, optimizer);

            List<Parameter<BFloat16>> restored = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, 50 + k)).ToList();
            var resumed = new AdamW.Optimizer(restored, lr: 1e-3, statePrecision: StatePrecision.Blockwise8Bit(minElements: 500),
                parameterPrecision: ParameterPrecision.Compensated);
            Checkpoint.Load(path, resumed);
            for (int k = 0; k < model.Count; k++)
            {
                AssertSameBits<BFloat16>(model[k].Data.Span, restored[k].Data.Span, $"restored {model[k].Name}");
                AssertSameBits<BFloat16>((BFloat16[])optimizer.StateDict().State[k]!.Buffers[ParameterPrecision.CompensationStateName],
                    (BFloat16[])resumed.StateDict().State[k]!.Buffers[ParameterPrecision.CompensationStateName], $"compensation of {model[k].Name}");
            }
            // Both continue identically.
            Gradients(model, 4);
            Gradients(restored, 4);
            optimizer.Step();
            resumed.Step();
            for (int k = 0; k < model.Count; k++)
                AssertSameBits<BFloat16>(model[k].Data.Span, restored[k].Data.Span, $"step 4, {model[k].Name}");

            // The state dict into an optimizer that keeps no compensation: refused, nothing changes.
            List<Parameter<BFloat16>> other = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, 7 + k)).ToList();
            var plain = new AdamW.Optimizer(other, lr: 1e-3);
            Gradients(other, 1);
            plain.Step();
            float[] before = (float[])plain.StateDict().State[0]!.Buffers["expAvg"];
            var e = Assert.Throws<ArgumentException>(() => plain.LoadStateDict(optimizer.StateDict()));
            Assert.Equal("stateDict", e.ParamName);
            Assert.Contains("compensation", e.Message);
            Assert.Equal(before, (float[])plain.StateDict().State[0]!.Buffers["expAvg"]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Arguments_CompensationWithMasterWeightsOrStochasticRounding_IsRefusedByName()
    {
        var parameters = new Parameter[] { new Parameter<BFloat16>("w", 4) };
        var e1 = Assert.Throws<ArgumentException>(() => new AdamW.Optimizer(parameters,
            parameterPrecision: ParameterPrecision.Compensated with { MasterWeights = true }));
        Assert.Equal("parameterPrecision", e1.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => new AdamW.Optimizer(parameters,
            parameterPrecision: ParameterPrecision.Compensated with { Rounding = ParameterRounding.Stochastic }));
        Assert.Equal("parameterPrecision", e2.ParamName);
        // Float parameters have nothing to compensate: the option is accepted and keeps no buffer for them.
        var f = new Parameter<float>("f", 8);
        var optimizer = new AdamW.Optimizer(new[] { f }, parameterPrecision: ParameterPrecision.Compensated);
        f.Grad.Span.Fill(1f);
        optimizer.Step();
        Assert.False(optimizer.StateDict().State[0]!.Buffers.ContainsKey(ParameterPrecision.CompensationStateName));
    }
}

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
/// bf16 and fp16 parameters in the optimizer objects: each step is, bit for bit, the rule's public storage overload
/// (multi-tensor, element index = the offset among all parameters) on the same buffers; the same bits for any thread
/// count; bf16 with 8-bit state equals "dequantize, storage overload, quantize" by hand; fp32 master weights equal the
/// storage overload on a float copy rounded back; clipping and unscaling act as gradients are loaded; checkpoints
/// round-trip bit-exactly and a file that does not fit changes nothing. Every comparison is of bits: no tolerance.
/// </summary>
public sealed class LowPrecisionParameterTests
{
    private static readonly int[] Lengths = { 100, 1000, 40_000 };   // under a vector block, not a multiple of 256, several 16K chunks

    private static Parameter<TStorage> Tensor<TStorage>(string name, int length, int seed) where TStorage : unmanaged
    {
        var p = new Parameter<TStorage>(name, length);
        var random = new Random(seed);
        Span<TStorage> data = p.Data.Span;
        for (int i = 0; i < length; i++)
            data[i] = From<TStorage>((float)(random.NextDouble() - 0.5));
        return p;
    }

    private static T From<T>(float value) where T : unmanaged =>
        typeof(T) == typeof(float) ? (T)(object)value
        : typeof(T) == typeof(BFloat16) ? (T)(object)(BFloat16)value
        : (T)(object)(Half)value;

    private static float ToFloat<T>(T value) where T : unmanaged =>
        value is float f ? f : value is BFloat16 b ? (float)b : (float)(Half)(object)value;

    private static ushort Bits<T>(T value) where T : unmanaged =>
        value is BFloat16 b ? b.Bits : BitConverter.HalfToUInt16Bits((Half)(object)value);

    /// <summary>Gradients of step <paramref name="step"/>, the same for every copy of a model (outliers in some blocks).</summary>
    private static void Gradients(IEnumerable<Parameter> parameters, int step, float scale = 1)
    {
        int k = 0;
        foreach (Parameter p in parameters)
        {
            var random = new Random(step * 101 + k++);
            for (int i = 0; i < p.Length; i++)
            {
                float g = (float)((random.NextDouble() - 0.5) * (i % 97 == 0 ? 20 : 1)) * scale;
                switch (p)
                {
                    case Parameter<float> f: f.Grad.Span[i] = g; break;
                    case Parameter<BFloat16> b: b.Grad.Span[i] = (BFloat16)g; break;
                    case Parameter<Half> h: h.Grad.Span[i] = (Half)g; break;
                }
            }
        }
    }

    private static void AssertSameBits<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, string what) where T : unmanaged
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            bool same = typeof(T) == typeof(float)
                ? BitConverter.SingleToInt32Bits((float)(object)expected[i]) == BitConverter.SingleToInt32Bits((float)(object)actual[i])
                : Bits(expected[i]) == Bits(actual[i]);
            Assert.True(same, $"{what} element {i}: expected {ToFloat(expected[i]):R}, got {ToFloat(actual[i]):R}");
        }
    }

    private static void AssertSameState(OptimizerStateDict expected, OptimizerStateDict actual)
    {
        Assert.Equal(expected.State.Count, actual.State.Count);
        for (int i = 0; i < expected.State.Count; i++)
        {
            ParameterState e = expected.State[i]!, a = actual.State[i]!;
            Assert.Equal(e.Step, a.Step);
            Assert.Equal(e.Buffers.Keys.OrderBy(k => k), a.Buffers.Keys.OrderBy(k => k));
            foreach ((string name, Array data) in e.Buffers)
            {
                if (data is byte[] codes)
                    Assert.Equal(codes, (byte[])a.Buffers[name]);
                else
                    AssertSameBits<float>((float[])data, (float[])a.Buffers[name], $"state {i}.{name}");
            }
        }
    }

    // ---- Bit identity with the public storage overload ----------------------------------------------

    [Theory]
    [InlineData(1, false)]
    [InlineData(3, false)]
    [InlineData(1, true)]
    [InlineData(3, true)]
    public void AdamW_Bf16Parameters_AreTheStorageOverload_BitForBit(int threads, bool stochastic) =>
        AgainstStorageOverload<BFloat16>(threads, stochastic);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AdamW_Fp16Parameters_AreTheStorageOverload_BitForBit(int threads) =>
        AgainstStorageOverload<Half>(threads, stochastic: false);

    private static void AgainstStorageOverload<T>(int threads, bool stochastic) where T : unmanaged
    {
        const ulong seed = 1234;
        List<Parameter<T>> model = Lengths.Select((n, k) => Tensor<T>("p" + k, n, k)).ToList();
        List<Parameter<T>> mirror = Lengths.Select((n, k) => Tensor<T>("p" + k, n, k)).ToList();
        var options = new StepOptions(maxDegreeOfParallelism: threads, parallelThreshold: 1);
        var optimizer = new AdamW.Optimizer(model, lr: 0.01, weightDecay: 0.1, stepOptions: options,
            parameterPrecision: stochastic ? ParameterPrecision.Stochastic(seed) : null);
        float[][] m = Lengths.Select(n => new float[n]).ToArray(), v = Lengths.Select(n => new float[n]).ToArray();
        for (int step = 1; step <= 5; step++)
        {
            Gradients(model, step);
            Gradients(mirror, step);
            optimizer.Step();
            // The public multi-tensor storage overload: the model's tensors concatenated, element index from 0.
            AdamW.Step<T, T, float>(
                mirror.Select(p => p.Data).ToArray(), mirror.Select(p => (ReadOnlyMemory<T>)p.Grad).ToArray(),
                m.Select(a => a.AsMemory()).ToArray(), v.Select(a => a.AsMemory()).ToArray(), default,
                step, lr: 0.01, weightDecay: 0.1,
                options: new StepOptions(maxDegreeOfParallelism: 1) { Rounding = stochastic ? new StochasticRounding(seed, (ulong)step) : default });
            for (int k = 0; k < model.Count; k++)
                AssertSameBits<T>(mirror[k].Data.Span, model[k].Data.Span, $"step {step}, {model[k].Name}");
        }
        OptimizerStateDict state = optimizer.StateDict();
        for (int k = 0; k < model.Count; k++)
        {
            AssertSameBits<float>(m[k], (float[])state.State[k]!.Buffers["expAvg"], $"expAvg of {model[k].Name}");
            AssertSameBits<float>(v[k], (float[])state.State[k]!.Buffers["expAvgSq"], $"expAvgSq of {model[k].Name}");
            Assert.Equal(typeof(T), state.Parameters[k].ElementType);
        }
    }

    [Fact]
    public void StochasticRounding_BitsDoNotDependOnThreadCount_WithFullAnd8BitState()
    {
        foreach (StatePrecision? precision in new[] { null, StatePrecision.Blockwise8Bit(minElements: 0) })
        {
            BFloat16[][] Run(int threads)
            {
                List<Parameter<BFloat16>> model = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
                var optimizer = new AdamW.Optimizer(model, lr: 1e-3, weightDecay: 0.1, stepOptions: new StepOptions(threads, parallelThreshold: 1),
                    statePrecision: precision, parameterPrecision: ParameterPrecision.Stochastic(seed: 99));
                for (int step = 1; step <= 4; step++)
                {
                    Gradients(model, step);
                    optimizer.Step();
                }
                return model.Select(p => p.Data.ToArray()).ToArray();
            }
            BFloat16[][] one = Run(1), three = Run(3);
            for (int k = 0; k < one.Length; k++)
                AssertSameBits<BFloat16>(one[k], three[k], $"{(precision is null ? "float" : "8-bit")} state, tensor {k}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Bf16Parameters_8BitState_AreDequantizeStorageOverloadQuantize_ByHand(int threads)
    {
        const ulong seed = 5;
        List<Parameter<BFloat16>> model = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
        List<Parameter<BFloat16>> mirror = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
        var optimizer = new AdamW.Optimizer(model, lr: 0.01, weightDecay: 0.1, stepOptions: new StepOptions(threads, parallelThreshold: 1),
            statePrecision: StatePrecision.Blockwise8Bit(minElements: 0), parameterPrecision: ParameterPrecision.Stochastic(seed));
        var m = Lengths.Select(n => (Codes: Filled(n, BlockwiseQuantizer.Signed), AbsMax: new float[BlockwiseQuantizer.BlockCount(n)])).ToArray();
        var v = Lengths.Select(n => (Codes: Filled(n, BlockwiseQuantizer.Unsigned), AbsMax: new float[BlockwiseQuantizer.BlockCount(n)])).ToArray();
        for (int step = 1; step <= 5; step++)
        {
            Gradients(model, step);
            Gradients(mirror, step);
            optimizer.Step();
            long offset = 0;
            for (int k = 0; k < mirror.Count; k++)
            {
                float[] expAvg = new float[Lengths[k]], expAvgSq = new float[Lengths[k]];
                BlockwiseQuantizer.Signed.Dequantize(m[k].Codes, m[k].AbsMax, expAvg);
                BlockwiseQuantizer.Unsigned.Dequantize(v[k].Codes, v[k].AbsMax, expAvgSq);
                AdamW.Step<BFloat16, BFloat16, float>(mirror[k].Data.Span, mirror[k].Grad.Span, expAvg, expAvgSq, default, step, lr: 0.01, weightDecay: 0.1,
                    options: new StepOptions(1) { Rounding = new StochasticRounding(seed, (ulong)step, (ulong)offset) });
                BlockwiseQuantizer.Signed.Quantize(expAvg, m[k].Codes, m[k].AbsMax);
                BlockwiseQuantizer.Unsigned.Quantize(expAvgSq, v[k].Codes, v[k].AbsMax);
                AssertSameBits<BFloat16>(mirror[k].Data.Span, model[k].Data.Span, $"step {step}, {model[k].Name}");
                offset += Lengths[k];
            }
        }
        OptimizerStateDict state = optimizer.StateDict();
        for (int k = 0; k < model.Count; k++)
        {
            Assert.Equal(m[k].Codes, (byte[])state.State[k]!.Buffers["expAvg"]);
            Assert.Equal(v[k].AbsMax, (float[])state.State[k]!.Buffers["expAvgSq.absmax"]);
        }
    }

    private static byte[] Filled(int length, BlockwiseQuantizer quantizer)
    {
        var codes = new byte[length];
        codes.AsSpan().Fill(quantizer.ZeroCode);
        return codes;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MixedPrecisionList_EachParameterIsItsOwnOverload_StochasticIndexIsTheOffsetAmongAllParameters(bool stochastic)
    {
        const ulong seed = 77;
        // Stochastic rounding is for bf16 only (an fp16 parameter is refused with it): the stochastic run mixes bf16 and float.
        Parameter[] Model() => stochastic
            ? new Parameter[] { Tensor<BFloat16>("a", 700, 1), Tensor<float>("b", 300, 2), Tensor<BFloat16>("d", 900, 4) }
            : new Parameter[] { Tensor<BFloat16>("a", 700, 1), Tensor<float>("b", 300, 2), Tensor<Half>("c", 500, 3), Tensor<BFloat16>("d", 900, 4) };
        Parameter[] model = Model(), mirror = Model();
        var optimizer = new SGD.Optimizer(model, lr: 0.1, momentum: 0.9, weightDecay: 0.01, stepOptions: StepOptions.SingleThreaded,
            parameterPrecision: stochastic ? ParameterPrecision.Stochastic(seed) : null);
        float[][] momentum = mirror.Select(p => new float[p.Length]).ToArray();
        for (int step = 1; step <= 4; step++)
        {
            Gradients(model, step);
            Gradients(mirror, step);
            optimizer.Step();
            long offset = 0;   // the stream's element index of a parameter's first element: the elements before it in the list
            for (int k = 0; k < mirror.Length; k++)
            {
                var rounding = new StepOptions(1) { Rounding = stochastic ? new StochasticRounding(seed, (ulong)step, (ulong)offset) : default };
                switch (mirror[k])
                {
                    case Parameter<float> f:
                        SGD.Step(f.Data.Span, f.Grad.Span, momentum[k], 0.1, step, momentum: 0.9, weightDecay: 0.01, options: StepOptions.SingleThreaded);
                        AssertSameBits<float>(f.Data.Span, ((Parameter<float>)model[k]).Data.Span, $"step {step}, {f.Name}");
                        break;
                    case Parameter<BFloat16> b:
                        SGD.Step<BFloat16, BFloat16, float>(b.Data.Span, b.Grad.Span, momentum[k], 0.1, step, momentum: 0.9, weightDecay: 0.01, options: rounding);
                        AssertSameBits<BFloat16>(b.Data.Span, ((Parameter<BFloat16>)model[k]).Data.Span, $"step {step}, {b.Name}");
                        break;
                    case Parameter<Half> h:
                        SGD.Step<Half, Half, float>(h.Data.Span, h.Grad.Span, momentum[k], 0.1, step, momentum: 0.9, weightDecay: 0.01, options: StepOptions.SingleThreaded);
                        AssertSameBits<Half>(h.Data.Span, ((Parameter<Half>)model[k]).Data.Span, $"step {step}, {h.Name}");
                        break;
                }
                offset += mirror[k].Length;
            }
        }
        OptimizerMemoryReport report = optimizer.MemoryReport();
        Assert.Equal(700 * 2, report.Parameters[0].ValueBytes);
        Assert.Equal(300 * 4, report.Parameters[1].ValueBytes);
        Assert.Equal(700 * 4, report.Parameters[0].StateBytes);   // one float momentum buffer
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void MasterWeights_AreTheStorageOverloadOnAFloatCopy_RoundedBack(int threads)
    {
        List<Parameter<BFloat16>> model = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
        List<Parameter<BFloat16>> mirror = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
        var optimizer = new AdamW.Optimizer(model, lr: 1e-3, weightDecay: 0.1, stepOptions: new StepOptions(threads, parallelThreshold: 1),
            parameterPrecision: ParameterPrecision.Fp32MasterWeights);
        float[][] master = mirror.Select(p => p.Data.ToArray().Select(b => (float)b).ToArray()).ToArray();
        float[][] m = Lengths.Select(n => new float[n]).ToArray(), v = Lengths.Select(n => new float[n]).ToArray();
        for (int step = 1; step <= 5; step++)
        {
            Gradients(model, step);
            Gradients(mirror, step);
            optimizer.Step();
            for (int k = 0; k < mirror.Count; k++)
            {
                AdamW.Step<float, BFloat16, float>(master[k], mirror[k].Grad.Span, m[k], v[k], default, step, lr: 1e-3, weightDecay: 0.1);
                Span<BFloat16> data = mirror[k].Data.Span;
                for (int i = 0; i < data.Length; i++)
                    data[i] = (BFloat16)master[k][i];
                AssertSameBits<BFloat16>(mirror[k].Data.Span, model[k].Data.Span, $"step {step}, {model[k].Name}");
            }
        }
        OptimizerStateDict state = optimizer.StateDict();
        for (int k = 0; k < model.Count; k++)
            AssertSameBits<float>(master[k], (float[])state.State[k]!.Buffers[ParameterPrecision.MasterStateName], $"master of {model[k].Name}");
        // With lr 1e-3 and weight decay, some steps are below bf16's resolution: the master copy moved where the
        // parameter could not, so the two differ somewhere (else the test would not tell master weights from none).
        Assert.Contains(Enumerable.Range(0, Lengths[2]), i => master[2][i] != (float)model[2].Data.Span[i]);
        Assert.Equal((4 + 4 + 4) * 40_000L, optimizer.MemoryReport().Parameters[2].StateBytes);   // m, v and the master copy
    }

    // ---- Gradient scale: clipping and loss-scale unscaling ------------------------------------------

    [Fact]
    public void GradScalerUnscale_ThenClip_AppliesBothAsGradientsLoad()
    {
        const float lossScale = 1024f;
        const double maxNorm = 1.0;
        List<Parameter<BFloat16>> model = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
        List<Parameter<BFloat16>> mirror = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
        var optimizer = new AdamW.Optimizer(model, lr: 0.01, stepOptions: StepOptions.SingleThreaded);
        var scaler = new GradScaler(initScale: lossScale);
        float[][] m = Lengths.Select(n => new float[n]).ToArray(), v = Lengths.Select(n => new float[n]).ToArray();
        for (int step = 1; step <= 3; step++)
        {
            Gradients(model, step, scale: lossScale);   // what back-propagating the scaled loss gives
            Gradients(mirror, step);
            scaler.Unscale(optimizer);
            double total = optimizer.ClipGradNorm(maxNorm);
            Assert.True(scaler.Step(optimizer));
            scaler.Update();

            // By hand: the unscaled gradients (exact: bf16 times a power of two), their norm, PyTorch's float coefficient.
            double sum = 0;
            foreach (Parameter<BFloat16> p in mirror)
                foreach (BFloat16 g in p.Grad.Span)
                    sum += (double)(float)g * (float)g;
            Assert.Equal(Math.Sqrt(sum), total, Math.Sqrt(sum) * 1e-12);   // the norm is reduced in double: agreement to ~1e-16, asserted to 1e-12
            float coefficient = MathF.Min(1f / ((float)total + 1e-6f) * (float)maxNorm, 1f);
            Assert.True(coefficient < 1, "the gradients must be clipped for the test to test clipping");
            // The kernel loads g · (coefficient / scale) in float: the same as float gradients g · coefficient (dividing by
            // a power of two is exact), which the storage overload takes as TGrad = float.
            for (int k = 0; k < mirror.Count; k++)
            {
                float[] grads = mirror[k].Grad.ToArray().Select(g => (float)g * coefficient).ToArray();
                AdamW.Step<BFloat16, float, float>(mirror[k].Data.Span, grads, m[k], v[k], default, step, lr: 0.01);
                AssertSameBits<BFloat16>(mirror[k].Data.Span, model[k].Data.Span, $"step {step}, {model[k].Name}");
            }
        }
    }

    // ---- Checkpoints ---------------------------------------------------------------------------------

    [Fact]
    public void Checkpoint_Bf16StochasticWith8BitState_RoundTripsBitExactly()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kernels-bf16-{Guid.NewGuid():N}.safetensors");
        try
        {
            AdamW.Optimizer Build(List<Parameter<BFloat16>> model) => new(model, lr: 0.01, weightDecay: 0.1,
                statePrecision: StatePrecision.Blockwise8Bit(minElements: 500), parameterPrecision: ParameterPrecision.Stochastic(3));
            List<Parameter<BFloat16>> model = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, k)).ToList();
            AdamW.Optimizer optimizer = Build(model);
            for (int step = 1; step <= 3; step++)
            {
                Gradients(model, step);
                optimizer.Step();
            }
            Checkpoint.Save(path, optimizer);
            for (int step = 4; step <= 5; step++)
            {
                Gradients(model, step);
                optimizer.Step();
            }

            List<Parameter<BFloat16>> restored = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, 100 + k)).ToList();   // other values: the file must restore them
            AdamW.Optimizer resumed = Build(restored);
            Checkpoint.Load(path, resumed);
            for (int step = 4; step <= 5; step++)
            {
                Gradients(restored, step);
                resumed.Step();
            }
            for (int k = 0; k < model.Count; k++)
                AssertSameBits<BFloat16>(model[k].Data.Span, restored[k].Data.Span, $"resumed {model[k].Name}");
            AssertSameState(optimizer.StateDict(), resumed.StateDict());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Checkpoint_Fp16MasterWeightsAndGradScaler_RoundTripBitExactly_AndAMismatchChangesNothing()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kernels-fp16-{Guid.NewGuid():N}.safetensors");
        try
        {
            List<Parameter<Half>> model = Lengths.Select((n, k) => Tensor<Half>("p" + k, n, k)).ToList();
            var optimizer = new AdamW.Optimizer(model, lr: 1e-3, parameterPrecision: ParameterPrecision.Fp32MasterWeights);
            var scaler = new GradScaler(initScale: 256, growthInterval: 2);
            for (int step = 1; step <= 3; step++)
            {
                Gradients(model, step, scale: scaler.CurrentScale);
                scaler.Step(optimizer);
                scaler.Update();
            }
            Checkpoint.Save(path, optimizer, scaler);
            OptimizerStateDict saved = optimizer.StateDict();
            Assert.True(saved.State[0]!.Buffers.ContainsKey(ParameterPrecision.MasterStateName));

            List<Parameter<Half>> restored = Lengths.Select((n, k) => Tensor<Half>("p" + k, n, 50 + k)).ToList();
            var resumed = new AdamW.Optimizer(restored, lr: 1e-3, parameterPrecision: ParameterPrecision.Fp32MasterWeights);
            var resumedScaler = new GradScaler(initScale: 256, growthInterval: 2);
            Checkpoint.Load(path, resumed, resumedScaler);
            AssertSameState(saved, resumed.StateDict());
            for (int k = 0; k < model.Count; k++)
                AssertSameBits<Half>(model[k].Data.Span, restored[k].Data.Span, $"restored {model[k].Name}");
            Assert.Equal(scaler.CurrentScale, resumedScaler.CurrentScale);
            Assert.Equal(scaler.GrowthTracker, resumedScaler.GrowthTracker);

            // The same file into an optimizer whose parameters are bf16 does not fit: nothing changes.
            List<Parameter<BFloat16>> other = Lengths.Select((n, k) => Tensor<BFloat16>("p" + k, n, 7 + k)).ToList();
            var otherOptimizer = new AdamW.Optimizer(other, lr: 1e-3);
            Gradients(other, 1);
            otherOptimizer.Step();
            OptimizerStateDict before = otherOptimizer.StateDict();
            BFloat16[][] values = other.Select(p => p.Data.ToArray()).ToArray();
            Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, otherOptimizer));
            AssertSameState(before, otherOptimizer.StateDict());
            for (int k = 0; k < other.Count; k++)
                AssertSameBits<BFloat16>(values[k], other[k].Data.Span, $"untouched {other[k].Name}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    // ---- Arguments -----------------------------------------------------------------------------------

    [Fact]
    public void Arguments_ParametersThisOptimizerCannotUpdate_AreRejectedByName()
    {
        var e1 = Assert.Throws<ArgumentException>(() => new AdamW.Optimizer(new Parameter[] { new Parameter<double>("w", 4) }));
        Assert.Equal("parameters", e1.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => new AdamW.Optimizer(new Parameter[] { new Parameter<Half>("w", 4) }, parameterPrecision: ParameterPrecision.Stochastic()));
        Assert.Equal("parameters", e2.ParamName);
        var e3 = Assert.Throws<ArgumentException>(() => new AdamW.Optimizer(new Parameter[] { new Parameter<BFloat16>("w", 4) },
            parameterPrecision: new ParameterPrecision(ParameterRounding.Stochastic, 1, MasterWeights: true)));
        Assert.Equal("parameterPrecision", e3.ParamName);
        // A hand-written optimizer that runs float kernels only (Muon's Newton–Schulz) does not take 16-bit parameters.
        var muon = new Muon.Optimizer(new[] { new Parameter<float>("w", 4, 4) });
        var e5 = Assert.Throws<ArgumentException>(() => muon.AddParamGroup(new Parameter[] { new Parameter<BFloat16>("b", 4, 4) }));
        Assert.Equal("parameters", e5.ParamName);
        Assert.Throws<NotSupportedException>(() => new Parameter<int>("i", 3));
    }
}

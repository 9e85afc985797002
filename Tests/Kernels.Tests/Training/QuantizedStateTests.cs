using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kernels.Optimizers;
using Kernels.Precision;
using Kernels.Training;
using Xunit;

namespace Kernels.Tests.Training;

/// <summary>A float rule whose buffers are in an unusual order (a state buffer before the gradient) with one non-negative state.</summary>
public static partial class ShuffledBuffers
{
    [UpdateRule]
    public static void Apply(ref float weight, ref float velocity, in float gradient, [NonNegative] ref float energy, float lr = 0.05f, float beta = 0.8f)
    {
        velocity = beta * velocity + gradient;
        energy = beta * energy + (1 - beta) * gradient * gradient;
        weight -= lr * velocity / (MathF.Sqrt(energy) + 1e-3f);
    }
}

/// <summary>
/// 8-bit blockwise state in the optimizer objects (<see cref="StatePrecision.Blockwise8Bit"/>): each step is, bit for
/// bit, "dequantize the state, run the rule's span overload, quantize the state again" done by hand with
/// <see cref="BlockwiseQuantizer"/> (itself tested against the map's definition in the precision tests); the signed
/// map for ordinary buffers and the unsigned one for <c>[NonNegative]</c> ones; any thread count; the threshold; the
/// memory report; state dicts and checkpoints bit-exact.
/// </summary>
public sealed class QuantizedStateTests
{
    private static Parameter<float> Tensor(string name, int length, int seed)
    {
        var p = new Parameter<float>(name, length);
        var random = new Random(seed);
        foreach (ref float v in p.Data.Span)
            v = (float)(random.NextDouble() - 0.5);
        return p;
    }

    private static void Gradients(IEnumerable<Parameter<float>> parameters, int step)
    {
        int k = 0;
        foreach (Parameter<float> p in parameters)
        {
            var random = new Random(step * 101 + k++);
            Span<float> g = p.Grad.Span;
            for (int i = 0; i < g.Length; i++)
                g[i] = (float)((random.NextDouble() - 0.5) * (i % 97 == 0 ? 20 : 1));   // some blocks with an outlier
        }
    }

    private static void AssertSameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what} element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    /// <summary>One tensor's 8-bit state kept by hand.</summary>
    private sealed class HandState(int length, bool nonNegative)
    {
        public readonly byte[] Codes = Filled(length, nonNegative);
        public readonly float[] AbsMax = new float[BlockwiseQuantizer.BlockCount(length)];
        public BlockwiseQuantizer Quantizer => nonNegative ? BlockwiseQuantizer.Unsigned : BlockwiseQuantizer.Signed;

        private static byte[] Filled(int length, bool nonNegative)
        {
            var codes = new byte[length];
            codes.AsSpan().Fill((nonNegative ? BlockwiseQuantizer.Unsigned : BlockwiseQuantizer.Signed).ZeroCode);
            return codes;
        }

        public float[] Values()
        {
            var values = new float[Codes.Length];
            Quantizer.Dequantize(Codes, AbsMax, values);
            return values;
        }

        public void Store(float[] values) => Quantizer.Quantize(values, Codes, AbsMax);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AdamW_8Bit_IsDequantizeStepQuantize_ByHand(int threads)
    {
        // Lengths: under one block, not a multiple of 256, several 16K chunks (threads split there).
        int[] lengths = { 100, 1000, 40_000 };
        List<Parameter<float>> model = lengths.Select((n, k) => Tensor("p" + k, n, k)).ToList();
        List<Parameter<float>> mirror = lengths.Select((n, k) => Tensor("p" + k, n, k)).ToList();
        var options = new StepOptions(maxDegreeOfParallelism: threads, parallelThreshold: 1);
        var optimizer = new AdamW.Optimizer(model, lr: 0.01, weightDecay: 0.1, stepOptions: options, statePrecision: StatePrecision.Blockwise8Bit(minElements: 0));

        HandState[] m = lengths.Select(n => new HandState(n, nonNegative: false)).ToArray();
        HandState[] v = lengths.Select(n => new HandState(n, nonNegative: true)).ToArray();
        for (int step = 1; step <= 6; step++)
        {
            Gradients(model, step);
            Gradients(mirror, step);
            optimizer.Step();
            for (int k = 0; k < mirror.Count; k++)
            {
                float[] expAvg = m[k].Values(), expAvgSq = v[k].Values();
                AdamW.Step(mirror[k].Data.Span, mirror[k].Grad.Span, expAvg, expAvgSq, default, step, lr: 0.01, weightDecay: 0.1);
                m[k].Store(expAvg);
                v[k].Store(expAvgSq);
                AssertSameBits(mirror[k].Data.Span, model[k].Data.Span, $"step {step}, {model[k].Name}");
            }
        }
        OptimizerStateDict state = optimizer.StateDict();
        for (int k = 0; k < lengths.Length; k++)
        {
            Assert.Equal(m[k].Codes, (byte[])state.State[k]!.Buffers["expAvg"]);
            Assert.Equal(m[k].AbsMax, (float[])state.State[k]!.Buffers["expAvg.absmax"]);
            Assert.Equal(v[k].Codes, (byte[])state.State[k]!.Buffers["expAvgSq"]);
            Assert.Equal(v[k].AbsMax, (float[])state.State[k]!.Buffers["expAvgSq.absmax"]);
            Assert.False(state.State[k]!.Buffers.ContainsKey("maxExpAvgSq"));   // AMSGrad off: never allocated
        }
    }

    [Fact]
    public void UserRule_BuffersInAnyOrder_NonNegativeBufferGetsTheUnsignedMap()
    {
        var model = new[] { Tensor("w", 3000, 7) };
        var mirror = new[] { Tensor("w", 3000, 7) };
        var optimizer = new ShuffledBuffers.ApplyOptimizer(model, lr: 0.02f, statePrecision: StatePrecision.Blockwise8Bit(0));
        var velocity = new HandState(3000, nonNegative: false);
        var energy = new HandState(3000, nonNegative: true);
        for (int step = 1; step <= 5; step++)
        {
            Gradients(model, step);
            Gradients(mirror, step);
            optimizer.Step();
            float[] vel = velocity.Values(), en = energy.Values();
            ShuffledBuffers.Apply(mirror[0].Data.Span, vel, mirror[0].Grad.Span, en, lr: 0.02f);
            velocity.Store(vel);
            energy.Store(en);
            AssertSameBits(mirror[0].Data.Span, model[0].Data.Span, $"step {step}");
        }
        OptimizerStateDict state = optimizer.StateDict();
        Assert.Equal(energy.Codes, (byte[])state.State[0]!.Buffers["energy"]);
        Assert.Equal(velocity.Codes, (byte[])state.State[0]!.Buffers["velocity"]);
    }

    [Fact]
    public void Threshold_SmallTensorsKeepFullState_MemoryReportCountsBytes()
    {
        var small = Tensor("bias", 1000, 1);
        var large = Tensor("weight", 5000, 2);
        var optimizer = new AdamW.Optimizer(new[] { small, large }, statePrecision: StatePrecision.Blockwise8Bit());
        Assert.Equal(0, optimizer.MemoryReport().StateBytes);   // nothing allocated before the first step
        Gradients(new[] { small, large }, 1);
        optimizer.Step();

        OptimizerStateDict state = optimizer.StateDict();
        Assert.IsType<float[]>(state.State[0]!.Buffers["expAvg"]);
        Assert.IsType<byte[]>(state.State[1]!.Buffers["expAvg"]);

        OptimizerMemoryReport report = optimizer.MemoryReport();
        Assert.Equal(2 * 1000 * 4, report.Parameters[0].StateBytes);                 // two float buffers
        Assert.Equal(2 * (5000 + 4 * 20), report.Parameters[1].StateBytes);          // two 8-bit buffers: codes + 20 block scales
        Assert.Equal(StateStorage.Full, report.Parameters[0].Storage);
        Assert.Equal(StateStorage.Blockwise8Bit, report.Parameters[1].Storage);
        Assert.Equal(8000 + 10160, report.StateBytes);
        Assert.Equal(2 * (5000 + 80) / 5000.0, report.Parameters[1].StateBytesPerElement);
        Assert.Contains("weight", report.ToString());
    }

    [Fact]
    public void InitialValue_IsQuantizedToo()
    {
        // Adagrad's sum starts at initial_accumulator_value: a block of equal values is exact in 8 bits (code of 1.0 × absmax).
        var p = Tensor("w", 600, 3);
        var optimizer = new Adagrad.Optimizer(new[] { p }, initialAccumulatorValue: 0.3, statePrecision: StatePrecision.Blockwise8Bit(0));
        var mirror = Tensor("w", 600, 3);
        Gradients(new[] { p }, 1);
        Gradients(new[] { mirror }, 1);
        optimizer.Step();
        float[] sum = Enumerable.Repeat(0.3f, 600).ToArray();
        Adagrad.Step(mirror.Data.Span, mirror.Grad.Span, sum, step: 1);
        AssertSameBits(mirror.Data.Span, p.Data.Span, "Adagrad step 1");
    }

    [Fact]
    public void Checkpoint_8BitState_RoundTripsBitExactly_AndLoadsIntoAFullPrecisionOptimizer()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kernels-8bit-{Guid.NewGuid():N}.safetensors");
        try
        {
            Parameter<float>[] model = { Tensor("a", 5000, 1), Tensor("b", 300, 2) };
            var optimizer = new AdamW.Optimizer(model, lr: 0.01, statePrecision: StatePrecision.Blockwise8Bit(0));
            for (int step = 1; step <= 3; step++)
            {
                Gradients(model, step);
                optimizer.Step();
            }
            Checkpoint.Save(path, optimizer);
            var file = Kernels.Training.Checkpoints.CheckpointFile.Load(path);
            Assert.True(file.Contains("state.0.exp_avg.absmax"));

            Parameter<float>[] resumedModel = { Tensor("a", 5000, 9), Tensor("b", 300, 9) };
            var resumed = new AdamW.Optimizer(resumedModel, statePrecision: StatePrecision.Blockwise8Bit(0));
            Checkpoint.Load(path, resumed);
            for (int step = 4; step <= 6; step++)
            {
                Gradients(model, step);
                Gradients(resumedModel, step);
                optimizer.Step();
                resumed.Step();
                for (int k = 0; k < model.Length; k++)
                    AssertSameBits(model[k].Data.Span, resumedModel[k].Data.Span, $"step {step}, {model[k].Name}");
            }

            // The same file into an optimizer with float state: the 8-bit buffers are dequantized.
            Parameter<float>[] fullModel = { Tensor("a", 5000, 9), Tensor("b", 300, 9) };
            var full = new AdamW.Optimizer(fullModel);
            Checkpoint.Load(path, full);
            OptimizerStateDict saved = new AdamW.Optimizer(new[] { Tensor("a", 5000, 9), Tensor("b", 300, 9) }, statePrecision: StatePrecision.Blockwise8Bit(0))
                .With(o => Checkpoint.Load(path, o)).StateDict();
            float[] expected = new float[5000];
            BlockwiseQuantizer.Unsigned.Dequantize((byte[])saved.State[0]!.Buffers["expAvgSq"], (float[])saved.State[0]!.Buffers["expAvgSq.absmax"], expected);
            Assert.Equal(expected, (float[])full.StateDict().State[0]!.Buffers["expAvgSq"]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LoadStateDict_CodesWithoutScales_IsRejected_AndNothingChanges()
    {
        Parameter<float>[] model = { Tensor("a", 600, 1) };
        var optimizer = new AdamW.Optimizer(model, statePrecision: StatePrecision.Blockwise8Bit(0));
        Gradients(model, 1);
        optimizer.Step();
        OptimizerStateDict good = optimizer.StateDict();
        var buffers = new Dictionary<string, Array>(good.State[0]!.Buffers);
        buffers.Remove("expAvg.absmax");
        var bad = new OptimizerStateDict
        {
            Optimizer = good.Optimizer, Parameters = good.Parameters, ParamGroups = good.ParamGroups,
            State = new[] { good.State[0]! with { Buffers = buffers } },
        };
        var ex = Assert.Throws<ArgumentException>(() => optimizer.LoadStateDict(bad));
        Assert.Equal("stateDict", ex.ParamName);
        Assert.Contains("absmax", ex.Message);
        Assert.Equal((byte[])good.State[0]!.Buffers["expAvg"], (byte[])optimizer.StateDict().State[0]!.Buffers["expAvg"]);
    }

    [Fact]
    public void StatePrecision_RejectsANegativeThreshold()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => StatePrecision.Blockwise8Bit(-1));
        Assert.Equal("minElements", ex.ParamName);
    }
}

internal static class WithExtension
{
    public static T With<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}

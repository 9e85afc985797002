using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Kernels.Gpu;
using Kernels.Optimizers;
using Kernels.Precision;
using Kernels.Tests.Gpu.Harness;
using Kernels.Training;
using Xunit;

namespace Kernels.Tests.Gpu;

/// <summary>
/// 8-bit blockwise state on the GPU (<see cref="GpuBlockwise"/>) on ILGPU's CPU accelerator: quantization and
/// dequantization against the CPU's <see cref="BlockwiseQuantizer"/> (ties on midpoints, zero, NaN, ±∞ and subnormal
/// blocks, last partial blocks), and AdamW's 8-bit step (signed map for <c>expAvg</c>, unsigned for <c>expAvgSq</c>)
/// against the CPU optimizer object with <c>StatePrecision.Blockwise8Bit(minElements: 0)</c> over six steps — codes,
/// absmax and parameters bit for bit (a NaN parameter where the CPU has a NaN) — with the whole tensor as one chunk and in
/// chunks of 512; bfloat16 parameters through the storage launcher against dequantize + storage span overload + quantize,
/// and rounded stochastically (chunk offsets in the stream's first index) against the CPU optimizer object.
/// </summary>
public sealed class BlockwiseGpuTests : IClassFixture<CpuAcceleratorFixture>
{
    private static readonly int[] s_lengths = { 1, 255, 256, 257, 1000, 4099 };

    private readonly CpuAcceleratorFixture _fixture;

    public BlockwiseGpuTests(CpuAcceleratorFixture fixture) => _fixture = fixture;

    private Accelerator Accelerator => _fixture.Accelerator;

    private static void AssertSameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what, bool anyNaN = false)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (anyNaN && float.IsNaN(expected[i]) && float.IsNaN(actual[i]))
                continue;
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what} element {i}: expected {expected[i]:R} ({BitConverter.SingleToInt32Bits(expected[i]):X8}), got {actual[i]:R} ({BitConverter.SingleToInt32Bits(actual[i]):X8})");
        }
    }

    private static void AssertSameCodes(byte[] expected, byte[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == actual[i], $"{what} code {i}: expected {expected[i]}, got {actual[i]}");
    }

    /// <summary>
    /// Blocks of every kind: random, every midpoint of the map exactly (absmax 1: ties), zeros (and −0), NaN, −∞, subnormal,
    /// an outlier among small values, then random again (the length's last block may be partial).
    /// </summary>
    private static float[] Quantizable(int length, BlockwiseQuantizer quantizer, int seed)
    {
        var random = new Random(seed);
        float[] map = quantizer.Map.ToArray();
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            int block = i / 256, j = i % 256;
            values[i] = block switch
            {
                1 => j < 255 ? (map[j] + map[j + 1]) * 0.5f : 1f,   // the midpoints as the quantizer defines them
                2 => j % 2 == 0 ? 0f : -0f,
                3 => j == 17 ? float.NaN : (float)random.NextDouble(),
                4 => j == 200 ? float.NegativeInfinity : (float)random.NextDouble(),
                5 => (float)(random.NextDouble() - 0.5) * 1e-38f,
                6 => j == 3 ? 1e6f : (float)(random.NextDouble() - 0.5) * 1e-3f,
                _ => (float)(random.NextDouble() - 0.5) * 4,
            };
        }
        return values;
    }

    public static TheoryData<int, bool> LengthsAndMaps()
    {
        var data = new TheoryData<int, bool>();
        foreach (int n in s_lengths.Append(7 * 256 + 9))
        {
            data.Add(n, false);
            data.Add(n, true);
        }
        return data;
    }

    [Theory, MemberData(nameof(LengthsAndMaps))]
    public void Quantize_matches_the_cpu_quantizer(int length, bool nonNegative)
    {
        BlockwiseQuantizer quantizer = nonNegative ? BlockwiseQuantizer.Unsigned : BlockwiseQuantizer.Signed;
        float[] values = Quantizable(length, quantizer, length);
        var expectedCodes = new byte[length];
        var expectedAbsMax = new float[BlockwiseQuantizer.BlockCount(length)];
        quantizer.Quantize(values, expectedCodes, expectedAbsMax);

        using var v = Accelerator.Allocate1D(values);
        using var codes = Accelerator.Allocate1D<byte>(length);
        using var absMax = Accelerator.Allocate1D<float>(expectedAbsMax.Length);
        GpuBlockwise.Quantize(Accelerator.DefaultStream, v.View, codes.View, absMax.View, quantizer);
        Accelerator.Synchronize();
        AssertSameCodes(expectedCodes, codes.GetAsArray1D(), $"n {length}");
        AssertSameBits(expectedAbsMax, absMax.GetAsArray1D(), $"n {length}, absmax");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Quantize_matches_the_cpu_quantizer_over_many_scales_and_ties(bool nonNegative)
    {
        // 1,024 blocks: even blocks log-uniform magnitudes (2^-149 … 2^10, random signs) whose absmax decides the scale;
        // odd blocks every midpoint of the map times 2^-k (k = 0 … 60) with 2^-k itself as the absmax, so each quotient is
        // a midpoint exactly (ties at every scale), then random values in between.
        BlockwiseQuantizer quantizer = nonNegative ? BlockwiseQuantizer.Unsigned : BlockwiseQuantizer.Signed;
        float[] map = quantizer.Map.ToArray();
        var random = new Random(nonNegative ? 5 : 6);
        const int Blocks = 1024;
        var values = new float[Blocks * 256];
        for (int b = 0; b < Blocks; b++)
        {
            float scale = MathF.ScaleB(1f, -(b / 2 % 61));
            int top = random.Next(-149, 11);
            for (int j = 0; j < 256; j++)
            {
                float value = b % 2 == 0
                    ? MathF.ScaleB(1f + (float)random.NextDouble(), top - random.Next(0, 40)) * (random.Next(2) == 0 ? -1 : 1)
                    : j < 255 ? (map[j] + map[j + 1]) * 0.5f * scale : scale;
                values[b * 256 + j] = value;
            }
        }
        var expectedCodes = new byte[values.Length];
        var expectedAbsMax = new float[Blocks];
        quantizer.Quantize(values, expectedCodes, expectedAbsMax);

        using var v = Accelerator.Allocate1D(values);
        using var codes = Accelerator.Allocate1D<byte>(values.Length);
        using var absMax = Accelerator.Allocate1D<float>(Blocks);
        GpuBlockwise.Quantize(Accelerator.DefaultStream, v.View, codes.View, absMax.View, quantizer);
        Accelerator.Synchronize();
        AssertSameCodes(expectedCodes, codes.GetAsArray1D(), "many scales");
        AssertSameBits(expectedAbsMax, absMax.GetAsArray1D(), "many scales, absmax");
    }

    [Theory, MemberData(nameof(LengthsAndMaps))]
    public void Dequantize_matches_the_cpu_quantizer(int length, bool nonNegative)
    {
        BlockwiseQuantizer quantizer = nonNegative ? BlockwiseQuantizer.Unsigned : BlockwiseQuantizer.Signed;
        var random = new Random(length + 1);
        byte[] codeData = new byte[length];
        random.NextBytes(codeData);
        float[] scales = new float[BlockwiseQuantizer.BlockCount(length)];
        float[] special = { 0f, float.NaN, float.PositiveInfinity, 1e-40f, 3.5f };
        for (int b = 0; b < scales.Length; b++)
            scales[b] = b < special.Length ? special[b] : (float)random.NextDouble() * 10;
        var expected = new float[length];
        quantizer.Dequantize(codeData, scales, expected);

        using var codes = Accelerator.Allocate1D(codeData);
        using var absMax = Accelerator.Allocate1D(scales);
        using var values = Accelerator.Allocate1D<float>(length);
        GpuBlockwise.Dequantize(Accelerator.DefaultStream, codes.View, absMax.View, values.View, quantizer);
        Accelerator.Synchronize();
        AssertSameBits(expected, values.GetAsArray1D(), $"n {length}", anyNaN: true);
    }

    /// <summary>Step <paramref name="step"/>'s gradient: an outlier every 97 elements, block 1 zero, ∞ in block 2 from step 2, NaN in block 3 from step 3.</summary>
    private static void Gradient(Span<float> g, int step, int seed)
    {
        var random = new Random(step * 101 + seed);
        for (int i = 0; i < g.Length; i++)
        {
            int block = i / 256;
            g[i] = block switch
            {
                1 => 0f,
                2 when step == 2 && i % 256 == 5 => float.PositiveInfinity,
                3 when step == 3 && i % 256 == 100 => float.NaN,
                _ => (float)((random.NextDouble() - 0.5) * (i % 97 == 0 ? 1000 : 1)),
            };
        }
    }

    public static TheoryData<int, int> LengthsAndChunks()
    {
        var data = new TheoryData<int, int>();
        foreach (int n in s_lengths)
        {
            data.Add(n, 0);     // the whole tensor in one chunk
            data.Add(n, 512);   // chunks of two blocks
        }
        return data;
    }

    [Theory, MemberData(nameof(LengthsAndChunks))]
    public void AdamW_8bit_step_matches_the_cpu_optimizer(int length, int chunk)
    {
        var cpu = new Parameter<float>("w", length);
        var random = new Random(length);
        foreach (ref float x in cpu.Data.Span)
            x = (float)(random.NextDouble() - 0.5);
        float[] initial = cpu.Data.ToArray();
        var optimizer = new AdamW.Optimizer(new[] { cpu }, lr: 0.01, weightDecay: 0.1, statePrecision: StatePrecision.Blockwise8Bit(minElements: 0));

        AcceleratorStream stream = Accelerator.DefaultStream;
        int blocks = BlockwiseQuantizer.BlockCount(length);
        using var p = Accelerator.Allocate1D(initial);
        using var g = Accelerator.Allocate1D<float>(length);
        using var mCodes = Accelerator.Allocate1D(Enumerable.Repeat(BlockwiseQuantizer.Signed.ZeroCode, length).ToArray());
        using var vCodes = Accelerator.Allocate1D(Enumerable.Repeat(BlockwiseQuantizer.Unsigned.ZeroCode, length).ToArray());
        using var mAbsMax = Accelerator.Allocate1D(new float[blocks]);
        using var vAbsMax = Accelerator.Allocate1D(new float[blocks]);
        using var scratch = Accelerator.Allocate1D<float>(2L * (chunk == 0 ? length : chunk));
        GpuQuantizedState[] states =
        {
            new(mCodes.View, mAbsMax.View, BlockwiseQuantizer.Signed),
            new(vCodes.View, vAbsMax.View, BlockwiseQuantizer.Unsigned),
        };
        var chunks = new List<(int Offset, int Length)>();

        for (int step = 1; step <= 6; step++)
        {
            Gradient(cpu.Grad.Span, step, length);
            g.CopyFromCPU(cpu.Grad.ToArray());
            optimizer.Step();

            chunks.Clear();
            int t = step;
            GpuBlockwise.Step(stream, length, states, scratch.View, (offset, n, s) =>
            {
                chunks.Add((offset, n));
                AdamW.Step(stream, p.View.SubView(offset, n), g.View.SubView(offset, n), s[0], s[1], default, t, lr: 0.01, weightDecay: 0.1);
            });
            stream.Synchronize();

            string where = $"n {length}, chunk {chunk}, step {step}";
            int expectedChunk = chunk == 0 ? length : Math.Min(chunk, length);
            Assert.Equal((length + expectedChunk - 1) / expectedChunk, chunks.Count);
            Assert.All(chunks, c => Assert.Equal(0, c.Offset % 256));
            OptimizerStateDict state = optimizer.StateDict();
            AssertSameCodes((byte[])state.State[0]!.Buffers["expAvg"], mCodes.GetAsArray1D(), where + ", expAvg");
            AssertSameBits((float[])state.State[0]!.Buffers["expAvg.absmax"], mAbsMax.GetAsArray1D(), where + ", expAvg.absmax");
            AssertSameCodes((byte[])state.State[0]!.Buffers["expAvgSq"], vCodes.GetAsArray1D(), where + ", expAvgSq");
            AssertSameBits((float[])state.State[0]!.Buffers["expAvgSq.absmax"], vAbsMax.GetAsArray1D(), where + ", expAvgSq.absmax");
            AssertSameBits(cpu.Data.Span, p.GetAsArray1D(), where + ", param", anyNaN: true);
        }

        // The cases the data was built for happened: a zero block, and NaN blocks from steps 2 and 3.
        float[] absMax = mAbsMax.GetAsArray1D();
        if (length > 256)
            Assert.Equal(0f, absMax[1]);
        if (length > 3 * 256)
            Assert.True(float.IsNaN(absMax[2]) && float.IsNaN(absMax[3]));
    }

    [Theory]
    [InlineData(257)]
    [InlineData(4099)]
    public void AdamW_8bit_step_with_bfloat16_parameters_matches_dequantize_storage_overload_quantize(int length)
    {
        var random = new Random(length);
        BFloat16[] param = Enumerable.Range(0, length).Select(_ => (BFloat16)(float)(random.NextDouble() - 0.5)).ToArray();
        var expectedParam = (BFloat16[])param.Clone();
        byte[] mExpected = Enumerable.Repeat(BlockwiseQuantizer.Signed.ZeroCode, length).ToArray();
        byte[] vExpected = Enumerable.Repeat(BlockwiseQuantizer.Unsigned.ZeroCode, length).ToArray();
        int blocks = BlockwiseQuantizer.BlockCount(length);
        float[] mScaleExpected = new float[blocks], vScaleExpected = new float[blocks];

        AcceleratorStream stream = Accelerator.DefaultStream;
        using var p = Accelerator.Allocate1D(param);
        using var g = Accelerator.Allocate1D<BFloat16>(length);
        using var mCodes = Accelerator.Allocate1D(mExpected);
        using var vCodes = Accelerator.Allocate1D(vExpected);
        using var mAbsMax = Accelerator.Allocate1D(new float[blocks]);
        using var vAbsMax = Accelerator.Allocate1D(new float[blocks]);
        using var scratch = Accelerator.Allocate1D<float>(2 * 1024);
        GpuQuantizedState[] states =
        {
            new(mCodes.View, mAbsMax.View, BlockwiseQuantizer.Signed),
            new(vCodes.View, vAbsMax.View, BlockwiseQuantizer.Unsigned),
        };
        var grad32 = new float[length];
        for (int step = 1; step <= 4; step++)
        {
            Gradient(grad32, step, length);
            BFloat16[] grad = grad32.Select(x => (BFloat16)x).ToArray();
            g.CopyFromCPU(grad);

            // CPU: dequantize, the storage span overload, quantize.
            float[] m = new float[length], v = new float[length];
            BlockwiseQuantizer.Signed.Dequantize(mExpected, mScaleExpected, m);
            BlockwiseQuantizer.Unsigned.Dequantize(vExpected, vScaleExpected, v);
            AdamW.Step<BFloat16, BFloat16, float>(expectedParam, grad, m, v, default, step, lr: 0.01, weightDecay: 0.1);
            BlockwiseQuantizer.Signed.Quantize(m, mExpected, mScaleExpected);
            BlockwiseQuantizer.Unsigned.Quantize(v, vExpected, vScaleExpected);

            int t = step;
            GpuBlockwise.Step(stream, length, states, scratch.View, (offset, n, s) =>
                AdamW.Step<BFloat16, BFloat16, float>(stream, p.View.SubView(offset, n), g.View.SubView(offset, n), s[0], s[1], default, t, lr: 0.01, weightDecay: 0.1));
            stream.Synchronize();

            string where = $"n {length}, step {step}";
            AssertSameCodes(mExpected, mCodes.GetAsArray1D(), where + ", expAvg");
            AssertSameBits(mScaleExpected, mAbsMax.GetAsArray1D(), where + ", expAvg.absmax");
            AssertSameCodes(vExpected, vCodes.GetAsArray1D(), where + ", expAvgSq");
            AssertSameBits(vScaleExpected, vAbsMax.GetAsArray1D(), where + ", expAvgSq.absmax");
            BFloat16[] actual = p.GetAsArray1D();
            for (int i = 0; i < length; i++)
            {
                float e = (float)expectedParam[i], a = (float)actual[i];
                Assert.True(expectedParam[i].Bits == actual[i].Bits || (float.IsNaN(e) && float.IsNaN(a)), $"{where}, param {i}: expected {e:R}, got {a:R}");
            }
        }
    }

    [Theory]
    [InlineData(257)]
    [InlineData(4099)]
    public void AdamW_8bit_step_with_stochastic_bfloat16_parameters_matches_the_cpu_optimizer(int length)
    {
        // The chunk's offset goes into the stream's first index, as the CPU counts elements: chunks of 512 here.
        const ulong seed = 77;
        var cpu = new Parameter<BFloat16>("w", length);
        var random = new Random(length);
        foreach (ref BFloat16 x in cpu.Data.Span)
            x = (BFloat16)(float)(random.NextDouble() - 0.5);
        BFloat16[] initial = cpu.Data.ToArray();
        var optimizer = new AdamW.Optimizer(new[] { cpu }, lr: 0.01, weightDecay: 0.1,
            statePrecision: StatePrecision.Blockwise8Bit(minElements: 0), parameterPrecision: ParameterPrecision.Stochastic(seed));

        AcceleratorStream stream = Accelerator.DefaultStream;
        int blocks = BlockwiseQuantizer.BlockCount(length);
        using var p = Accelerator.Allocate1D(initial);
        using var g = Accelerator.Allocate1D<BFloat16>(length);
        using var mCodes = Accelerator.Allocate1D(Enumerable.Repeat(BlockwiseQuantizer.Signed.ZeroCode, length).ToArray());
        using var vCodes = Accelerator.Allocate1D(Enumerable.Repeat(BlockwiseQuantizer.Unsigned.ZeroCode, length).ToArray());
        using var mAbsMax = Accelerator.Allocate1D(new float[blocks]);
        using var vAbsMax = Accelerator.Allocate1D(new float[blocks]);
        using var scratch = Accelerator.Allocate1D<float>(2 * 512);
        GpuQuantizedState[] states =
        {
            new(mCodes.View, mAbsMax.View, BlockwiseQuantizer.Signed),
            new(vCodes.View, vAbsMax.View, BlockwiseQuantizer.Unsigned),
        };
        var grad32 = new float[length];
        for (int step = 1; step <= 4; step++)
        {
            Gradient(grad32, step, length);
            for (int i = 0; i < length; i++)
                cpu.Grad.Span[i] = (BFloat16)grad32[i];
            g.CopyFromCPU(cpu.Grad.ToArray());
            optimizer.Step();

            int t = step;
            GpuBlockwise.Step(stream, length, states, scratch.View, (offset, n, s) =>
                AdamW.Step<BFloat16, BFloat16, float>(stream, p.View.SubView(offset, n), g.View.SubView(offset, n), s[0], s[1], default, t, lr: 0.01, weightDecay: 0.1,
                    options: new() { Rounding = new StochasticRounding(seed, (ulong)t, (ulong)offset) }));
            stream.Synchronize();

            string where = $"n {length}, step {step}";
            OptimizerStateDict state = optimizer.StateDict();
            AssertSameCodes((byte[])state.State[0]!.Buffers["expAvg"], mCodes.GetAsArray1D(), where + ", expAvg");
            AssertSameBits((float[])state.State[0]!.Buffers["expAvg.absmax"], mAbsMax.GetAsArray1D(), where + ", expAvg.absmax");
            AssertSameCodes((byte[])state.State[0]!.Buffers["expAvgSq"], vCodes.GetAsArray1D(), where + ", expAvgSq");
            AssertSameBits((float[])state.State[0]!.Buffers["expAvgSq.absmax"], vAbsMax.GetAsArray1D(), where + ", expAvgSq.absmax");
            BFloat16[] actual = p.GetAsArray1D();
            ReadOnlySpan<BFloat16> expected = cpu.Data.Span;
            for (int i = 0; i < length; i++)
            {
                float e = (float)expected[i], a = (float)actual[i];
                Assert.True(expected[i].Bits == actual[i].Bits || (float.IsNaN(e) && float.IsNaN(a)), $"{where}, param {i}: expected {e:R}, got {a:R}");
            }
        }
    }

    // ---------------------------------------------------------------- argument checks

    private void AssertRejected(string parameter, Action launch, string? message = null)
    {
        var e = Assert.ThrowsAny<ArgumentException>(launch);
        Assert.Equal(parameter, e.ParamName);
        Assert.Contains(message ?? parameter, e.Message);
    }

    [Fact]
    public void Quantize_and_dequantize_check_their_lengths()
    {
        AcceleratorStream stream = Accelerator.DefaultStream;
        using var values = Accelerator.Allocate1D<float>(257);
        using var codes = Accelerator.Allocate1D<byte>(257);
        using var shortCodes = Accelerator.Allocate1D<byte>(256);
        using var absMax = Accelerator.Allocate1D<float>(2);
        using var oneScale = Accelerator.Allocate1D<float>(1);
        using var threeScales = Accelerator.Allocate1D<float>(3);
        BlockwiseQuantizer q = BlockwiseQuantizer.Signed;
        AssertRejected("codes", () => GpuBlockwise.Quantize(stream, values.View, shortCodes.View, absMax.View, q));
        AssertRejected("absMax", () => GpuBlockwise.Quantize(stream, values.View, codes.View, oneScale.View, q), "ceil(257 / 256) = 2");
        AssertRejected("absMax", () => GpuBlockwise.Quantize(stream, values.View, codes.View, threeScales.View, q), "ceil(257 / 256) = 2");
        AssertRejected("codes", () => GpuBlockwise.Dequantize(stream, shortCodes.View, absMax.View, values.View, q));
        AssertRejected("absMax", () => GpuBlockwise.Dequantize(stream, codes.View, oneScale.View, values.View, q), "ceil(257 / 256) = 2");
        AssertRejected("values", () => GpuBlockwise.Dequantize(stream, codes.View, absMax.View, default, q));
        Assert.Throws<ArgumentNullException>("quantizer", () => GpuBlockwise.Quantize(stream, values.View, codes.View, absMax.View, null!));
        Assert.Throws<ArgumentNullException>("stream", () => GpuBlockwise.Quantize(null!, values.View, codes.View, absMax.View, q));
        // Overlap: values reinterpreted as the scales.
        AssertRejected("absMax", () => GpuBlockwise.Quantize(stream, values.View, codes.View, values.View.SubView(0, 2), q));
    }

    [Fact]
    public void Step_checks_states_and_scratch_before_launching()
    {
        AcceleratorStream stream = Accelerator.DefaultStream;
        using var codes = Accelerator.Allocate1D<byte>(1000);
        using var absMax = Accelerator.Allocate1D<float>(4);
        using var scratch = Accelerator.Allocate1D<float>(2 * 1000);
        using var small = Accelerator.Allocate1D<float>(2 * 255);
        var good = new GpuQuantizedState(codes.View, absMax.View, BlockwiseQuantizer.Signed);
        int calls = 0;
        GpuBlockwiseUpdate update = (_, _, _) => calls++;
        AssertRejected("states", () => GpuBlockwise.Step(stream, 1001, new[] { good }, scratch.View, update), "'states[0].Codes' has 1000 codes");
        AssertRejected("states", () => GpuBlockwise.Step(stream, 1000, new[] { good, new GpuQuantizedState(codes.View, absMax.View.SubView(0, 3), BlockwiseQuantizer.Unsigned) }, scratch.View, update),
            "'states[1].AbsMax' has 3 values; 1000 elements need ceil(1000 / 256) = 4");
        AssertRejected("states", () => GpuBlockwise.Step(stream, 1000, ReadOnlySpan<GpuQuantizedState>.Empty, scratch.View, update));
        AssertRejected("states", () => GpuBlockwise.Step(stream, 1000, new[] { good, default }, scratch.View, update), "no quantizer");
        AssertRejected("scratch", () => GpuBlockwise.Step(stream, 1000, new[] { good, good }, small.View, update), "at least 512");
        Assert.Throws<ArgumentNullException>("update", () => GpuBlockwise.Step(stream, 1000, new[] { good }, scratch.View, null!));
        Assert.Throws<ArgumentNullException>("quantizer", () => new GpuQuantizedState(codes.View, absMax.View, null!));
        Assert.Equal(0, calls);
    }

    // ---------------------------------------------------------------- PTX

    [Fact]
    public void Blockwise_kernels_compile_to_strict_ptx_for_sm_90()
    {
        foreach (string name in new[] { nameof(GpuBlockwise.AbsMaxKernel), nameof(GpuBlockwise.EncodeKernel), nameof(GpuBlockwise.DequantizeKernel) })
        {
            string ptx = GpuKernels.CompileToPtx(_fixture.Context, typeof(GpuBlockwise).GetMethod(name)!, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);
            string file = Path.Combine(AppContext.BaseDirectory, "ptx", $"GpuBlockwise.{name}.ptx");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, ptx);
            Assert.Contains(".entry", ptx);
            Assert.DoesNotContain(".extern", ptx);
            Assert.DoesNotMatch(new Regex(@"(?<![\w.])(add|sub|mul)\.f(32|64)(?![\w.])"), ptx);
            // No approximate division, no flushing of subnormals: the quotient is the CPU's.
            Assert.DoesNotMatch(new Regex(@"\bdiv\.(approx|full)\b"), ptx);
            Assert.DoesNotContain(".ftz", ptx);
            Assert.Matches(new Regex(@"\bst\.global\."), ptx);
            if (name == nameof(GpuBlockwise.EncodeKernel))
            {
                Assert.Contains("div.rn.f32", ptx);
                // The search: eight ordered comparisons with midpoints (false for NaN, as on the CPU), then the tie test.
                // (ILGPU 1.5.3 dropped the tie test from a loop form of the search; the kernel is written unrolled.)
                Assert.Equal(8, Regex.Matches(ptx, @"\bsetp\.lt\.f32\b").Count);
                Assert.Single(Regex.Matches(ptx, @"\bsetp\.eq\.f32\b"));
                Assert.DoesNotMatch(new Regex(@"\bsetp\.\w+u\.f32\b"), ptx);
            }
            else if (name == nameof(GpuBlockwise.DequantizeKernel))
                Assert.Contains("mul.rn.f32", ptx);
        }
    }
}

using System;
using System.Collections.Generic;
using System.Runtime.Intrinsics;
using Kernels.Precision;
using Kernels.Tests.Numerics;
using Xunit;

namespace Kernels.Tests.Precision;

/// <summary>
/// <see cref="BlockwiseQuantizer"/>: codes equal bitsandbytes' binary search (re-expressed below) including ties;
/// every map value times an absmax round-trips to its own code; random blocks (zeros, subnormals, wide ranges) stay
/// within half a map gap times absmax; zero and non-finite blocks follow the stated policy; the vectorized
/// dequantization has the scalar bits.
/// </summary>
public sealed class BlockwiseQuantizerTests
{
    public static TheoryData<bool> BothMaps => new() { true, false };

    private static BlockwiseQuantizer For(bool signed) => signed ? BlockwiseQuantizer.Signed : BlockwiseQuantizer.Unsigned;

    /// <summary>
    /// bitsandbytes' <c>dQuantize&lt;0&gt;</c> (csrc/kernels.cu), written out for the test: a 7-step binary search from
    /// index 127 that ends on an even index, then a comparison with the float midpoint to each neighbour.
    /// </summary>
    private static int BitsandbytesCode(ReadOnlySpan<float> code, float x)
    {
        int pivot = 127, upperPivot = 255, lowerPivot = 0;
        float lower = -1f, upper = 1f, value = code[pivot];
        for (int step = 64; step > 0; step >>= 1)
        {
            if (x > value)
            {
                lowerPivot = pivot;
                lower = value;
                pivot += step;
            }
            else
            {
                upperPivot = pivot;
                upper = value;
                pivot -= step;
            }
            value = code[pivot];
        }
        if (upperPivot == 255)
            upper = code[upperPivot];
        if (lowerPivot == 0)
            lower = code[lowerPivot];
        if (x > value)
            return x > (upper + value) * 0.5f ? upperPivot : pivot;
        return x < (lower + value) * 0.5f ? lowerPivot : pivot;
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void Encode_MatchesBitsandbytesSearch_IncludingTies(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        ReadOnlySpan<float> map = quantizer.Map;
        var inputs = new List<float> { -1f, 1f, 0f, -0f, -1.5f, 1.5f, float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f };
        for (int k = 0; k < 256; k++)
        {
            inputs.Add(map[k]);
            inputs.Add(MathF.BitIncrement(map[k]));
            inputs.Add(MathF.BitDecrement(map[k]));
            if (k < 255)
            {
                float midpoint = (map[k] + map[k + 1]) * 0.5f;
                inputs.Add(midpoint);
                inputs.Add(MathF.BitIncrement(midpoint));
                inputs.Add(MathF.BitDecrement(midpoint));
            }
        }
        var random = new Random(8);
        for (int i = 0; i < 200_000; i++)
        {
            inputs.Add((float)(random.NextDouble() * 2 - 1));
            inputs.Add((float)((random.NextDouble() * 2 - 1) * Math.Pow(10, -7 * random.NextDouble())));
        }
        foreach (float x in inputs)
            if (BitsandbytesCode(map, x) != quantizer.Encode(x))
                Assert.Fail($"{x:R}: bitsandbytes {BitsandbytesCode(map, x)}, ours {quantizer.Encode(x)}");

        // The vector forms, lane by lane, on the same inputs (in a rotating order, so each input meets each lane).
        float[] all = [.. inputs];
        for (int i = 0; i + 16 <= all.Length; i += 13)
        {
            ReadOnlySpan<float> x = all.AsSpan(i, 16);
            Vector512<int> v512 = quantizer.Encode(Vector512.Create(x));
            Vector256<int> v256 = quantizer.Encode(Vector256.Create(x));
            Vector128<int> v128 = quantizer.Encode(Vector128.Create(x));
            for (int j = 0; j < 16; j++)
            {
                int scalar = quantizer.Encode(x[j]);
                if (v512.GetElement(j) != scalar || (j < 8 && v256.GetElement(j) != scalar) || (j < 4 && v128.GetElement(j) != scalar))
                    Assert.Fail($"{x[j]:R}: scalar {scalar}, Vector512 {v512.GetElement(j)}, Vector256 {(j < 8 ? v256.GetElement(j) : -1)}, Vector128 {(j < 4 ? v128.GetElement(j) : -1)}");
            }
        }

        // Ties go to the even code.
        for (int k = 0; k < 255; k++)
        {
            float midpoint = (map[k] + map[k + 1]) * 0.5f;
            Assert.Equal(k % 2 == 0 ? k : k + 1, quantizer.Encode(midpoint));
        }
    }

    /// <summary>
    /// Quantization's own search (a bucketed table on AVX2 machines, see BlockwiseQuantizer) gives Encode(float)'s codes:
    /// blocks with absmax 1 (so x / absmax is x exactly) holding every map value, midpoint (ties), their neighbours,
    /// the edges of every table bucket (bit patterns k·2^15 and k·2^15 − 1 from 2^-27 to 1, both signs) and random
    /// values over [−1, 1] at every scale.
    /// </summary>
    [Theory]
    [MemberData(nameof(BothMaps))]
    public void Quantize_GivesEncodesCodes_OnTiesBucketEdgesAndRandomValues(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        ReadOnlySpan<float> map = quantizer.Map;
        var inputs = new List<float> { 0f, -0f, float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f };
        for (int k = 0; k < 256; k++)
        {
            inputs.Add(map[k]);
            inputs.Add(MathF.BitIncrement(map[k]));
            inputs.Add(MathF.BitDecrement(map[k]));
            if (k < 255)
            {
                float midpoint = (map[k] + map[k + 1]) * 0.5f;
                inputs.Add(midpoint);
                inputs.Add(MathF.BitIncrement(midpoint));
                inputs.Add(MathF.BitDecrement(midpoint));
            }
        }
        for (uint bits = 0x3200_0000; bits <= 0x3F80_0000; bits += 1u << 15)
        {
            foreach (uint b in new[] { bits, bits - 1 })
            {
                inputs.Add(BitConverter.UInt32BitsToSingle(b));
                inputs.Add(-BitConverter.UInt32BitsToSingle(b));
            }
        }
        var random = new Random(21);
        for (int i = 0; i < 200_000; i++)
        {
            inputs.Add((float)(random.NextDouble() * 2 - 1));
            inputs.Add((float)((random.NextDouble() * 2 - 1) * Math.Pow(10, -9 * random.NextDouble())));
        }
        inputs.RemoveAll(x => !(MathF.Abs(x) <= 1f));

        // Blocks of 255 inputs and a 1 (absmax 1); the last block shorter, so the scalar tail runs too.
        var codes = new byte[256];
        var block = new float[256];
        for (int start = 0; start < inputs.Count; start += 255)
        {
            int n = Math.Min(255, inputs.Count - start);
            inputs.CopyTo(start, block, 0, n);
            block[n] = 1f;
            float absmax = quantizer.QuantizeBlock(block.AsSpan(0, n + 1), codes);
            Assert.Equal(1f, absmax);
            for (int j = 0; j < n; j++)
            {
                if (codes[j] != quantizer.Encode(block[j]))
                    Assert.Fail($"{block[j]:R} (bits 0x{BitConverter.SingleToUInt32Bits(block[j]):X8}): Encode {quantizer.Encode(block[j])}, Quantize {codes[j]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void EveryMapValueTimesAbsmax_RoundTripsToItsOwnCode(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        var random = new Random(signed ? 1 : 2);
        var absmaxes = new List<float> { 1f, 0.5f, 3f, 7.25e-3f, 1e-30f, 1e30f, 3e38f, float.MaxValue, 1e-31f };
        for (int i = 0; i < 200; i++)
            absmaxes.Add((float)Math.Pow(10, random.NextDouble() * 60 - 30));
        var block = new float[256];
        var codes = new byte[256];
        var back = new float[256];
        foreach (float absmax in absmaxes)
        {
            // Element k is map[k] · absmax (a normal float for each absmax above); the last, 1 · absmax, is the block's absmax.
            for (int k = 0; k < 256; k++)
                block[k] = quantizer.Map[k] * absmax;
            Assert.Equal(absmax, quantizer.QuantizeBlock(block, codes));
            for (int k = 0; k < 256; k++)
                if (codes[k] != k)
                    Assert.Fail($"absmax {absmax:R}: map[{k}]·absmax = {block[k]:R} got code {codes[k]}");
            quantizer.DequantizeBlock(codes, absmax, back);
            for (int k = 0; k < 256; k++)
                Assert.Equal(BitConverter.SingleToUInt32Bits(block[k]), BitConverter.SingleToUInt32Bits(back[k]));
        }
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void RandomBlocks_ErrorWithinHalfTheMapGapTimesAbsmax(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        ReadOnlySpan<float> map = quantizer.Map;
        // The largest |normalized - map[c]| that coding c allows: half the gap to either neighbour, and at the ends the
        // whole distance to ±1 (the signed map stops at -0.99297; normalized values reach -1).
        var allowed = new double[256];
        for (int c = 0; c < 256; c++)
        {
            double left = c > 0 ? (map[c] - (double)map[c - 1]) / 2 : map[c] - (signed ? -1.0 : 0.0);
            double right = c < 255 ? (map[c + 1] - (double)map[c]) / 2 : 0;
            allowed[c] = Math.Max(left, right);
        }

        var random = new Random(signed ? 31 : 32);
        const int Length = 256 * 400 + 77;
        var values = new float[Length];
        for (int i = 0; i < Length; i++)
        {
            int block = i / 256;
            double magnitude = (block % 5) switch
            {
                0 => 1,
                1 => Math.Pow(10, random.NextDouble() * 16 - 8),       // mixed scales inside one block
                2 => 1e-40,                                             // subnormal blocks
                3 => Math.Pow(10, random.Next(-30, 30)),
                _ => 1e-44,                                             // a few subnormal steps
            };
            double x = (random.NextDouble() * 2 - 1) * magnitude;
            if (!signed)
                x = Math.Abs(x);
            values[i] = block % 7 == 6 ? 0f : random.Next(10) == 0 ? 0f : (float)x;
        }
        var codes = new byte[Length];
        var absmax = new float[BlockwiseQuantizer.BlockCount(Length)];
        quantizer.Quantize(values, codes, absmax);
        var back = new float[Length];
        quantizer.Dequantize(codes, absmax, back);

        for (int b = 0; b < absmax.Length; b++)
        {
            int start = b * 256, end = Math.Min(Length, start + 256);
            float expectedAbsmax = 0f;
            for (int i = start; i < end; i++)
                expectedAbsmax = Math.Max(expectedAbsmax, Math.Abs(values[i]));
            Assert.Equal(expectedAbsmax, absmax[b]);
            for (int i = start; i < end; i++)
            {
                double error = Math.Abs(values[i] - (double)back[i]);
                // Slack for the float rounding of x / absmax, of the midpoints and of map[c]·absmax (a subnormal
                // product can be off by half of 2^-149).
                double bound = allowed[codes[i]] * absmax[b] * (1 + Math.ScaleB(1, -20)) + Math.ScaleB(Math.Abs(values[i]), -21) + Math.ScaleB(1, -150);
                if (!(error <= bound))
                    Assert.Fail($"block {b}, x = {values[i]:R}, absmax {absmax[b]:R}, code {codes[i]}, back {back[i]:R}: error {error:R} > {bound:R}");
                if (values[i] == 0f)
                    Assert.Equal(quantizer.ZeroCode, codes[i]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void ZeroBlocks_RoundTripToPositiveZero(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        Assert.Equal(0f, quantizer.Map[quantizer.ZeroCode]);
        var values = new float[600];
        for (int i = 0; i < values.Length; i += 2)
            values[i] = -0f;
        var codes = new byte[600];
        var absmax = new float[3];
        absmax.AsSpan().Fill(float.NaN);
        quantizer.Quantize(values, codes, absmax);
        Assert.All(absmax, a => Assert.Equal(0u, BitConverter.SingleToUInt32Bits(a)));
        Assert.All(codes, c => Assert.Equal(quantizer.ZeroCode, c));
        var back = new float[600];
        back.AsSpan().Fill(1f);
        quantizer.Dequantize(codes, absmax, back);
        Assert.All(back, v => Assert.Equal(0u, BitConverter.SingleToUInt32Bits(v)));
        Assert.Equal(0f, quantizer.QuantizeBlock(ReadOnlySpan<float>.Empty, Span<byte>.Empty));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteValue_PoisonsItsBlockOnly(float poison)
    {
        BlockwiseQuantizer quantizer = BlockwiseQuantizer.Signed;
        var values = new float[700];
        for (int i = 0; i < values.Length; i++)
            values[i] = MathF.Sin(i) * 3;
        values[300] = poison;   // block 1
        var codes = new byte[700];
        var absmax = new float[3];
        quantizer.Quantize(values, codes, absmax);
        Assert.True(float.IsNaN(absmax[1]));
        Assert.True(float.IsFinite(absmax[0]) && float.IsFinite(absmax[2]));
        for (int i = 256; i < 512; i++)
            Assert.Equal(quantizer.ZeroCode, codes[i]);
        var back = new float[700];
        quantizer.Dequantize(codes, absmax, back);
        for (int i = 0; i < 700; i++)
            Assert.Equal(i is >= 256 and < 512, float.IsNaN(back[i]));
        Assert.True(float.IsNaN(BlockwiseQuantizer.AbsMax([1f, 2f, poison, 3f])));
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void Dequantize_Vectorized_MatchesScalar(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        var random = new Random(signed ? 41 : 42);
        float[] specialAbsmax = [0f, -0f, float.NaN, float.PositiveInfinity, 1e-40f, float.Epsilon, float.MaxValue, -2.5f];
        foreach (int length in BitExact.Lengths())
        {
            var codes = new byte[length];
            random.NextBytes(codes);
            var absmax = new float[BlockwiseQuantizer.BlockCount(length)];
            for (int b = 0; b < absmax.Length; b++)
                absmax[b] = b % 3 == 2 ? specialAbsmax[random.Next(specialAbsmax.Length)] : (float)Math.Pow(10, random.NextDouble() * 20 - 10);
            var values = new float[length + 1];
            values[length] = 123f;
            quantizer.Dequantize(codes, absmax, values);
            for (int i = 0; i < length; i++)
                Assert.Equal(BitConverter.SingleToUInt32Bits(quantizer.Map[codes[i]] * absmax[i / 256]), BitConverter.SingleToUInt32Bits(values[i]));
            Assert.Equal(123f, values[length]);
        }

        // The per-vector forms, with junk above the low 8 bits of each code.
        for (int trial = 0; trial < 2000; trial++)
        {
            var raw = new int[16];
            var bytes = new byte[16];
            for (int j = 0; j < 16; j++)
            {
                raw[j] = random.Next();
                bytes[j] = (byte)raw[j];
            }
            float scale = trial % 10 == 0 ? specialAbsmax[trial / 10 % specialAbsmax.Length] : (float)random.NextDouble();
            Vector512<float> d512 = quantizer.Decode(Vector512.Create(raw));
            Vector256<float> d256 = quantizer.Decode(Vector256.Create(raw));
            Vector128<float> d128 = quantizer.Decode(Vector128.Create(raw));
            Vector512<float> q512 = quantizer.Dequantize(Vector128.Create(bytes), scale);
            Vector256<float> q256 = quantizer.Dequantize(Vector64.Create(bytes), scale);
            for (int j = 0; j < 16; j++)
            {
                float map = quantizer.Decode((byte)raw[j]);
                Assert.Equal(map, d512.GetElement(j));
                Assert.Equal(BitConverter.SingleToUInt32Bits(map * scale), BitConverter.SingleToUInt32Bits(q512.GetElement(j)));
                if (j < 8)
                {
                    Assert.Equal(map, d256.GetElement(j));
                    Assert.Equal(BitConverter.SingleToUInt32Bits(map * scale), BitConverter.SingleToUInt32Bits(q256.GetElement(j)));
                }
                if (j < 4)
                    Assert.Equal(map, d128.GetElement(j));
            }
        }
    }

    [Fact]
    public void PartialLastBlock_UsesItsOwnAbsmax()
    {
        BlockwiseQuantizer quantizer = BlockwiseQuantizer.Unsigned;
        foreach (int length in new[] { 1, 255, 256, 257, 511, 513, 1000 })
        {
            var values = new float[length];
            for (int i = 0; i < length; i++)
                values[i] = i < 256 ? 1000f : 0.5f;
            var codes = new byte[length];
            var absmax = new float[BlockwiseQuantizer.BlockCount(length)];
            quantizer.Quantize(values, codes, absmax);
            Assert.Equal(1000f, absmax[0]);
            for (int b = 1; b < absmax.Length; b++)
                Assert.Equal(0.5f, absmax[b]);
            Assert.All(codes, c => Assert.Equal(255, c));
        }
        Assert.Equal(0, BlockwiseQuantizer.BlockCount(0));
        Assert.Equal(1, BlockwiseQuantizer.BlockCount(256));
        Assert.Equal(2, BlockwiseQuantizer.BlockCount(257));
        Assert.Equal(8_388_608, BlockwiseQuantizer.BlockCount(int.MaxValue));
    }

    [Fact]
    public void Arguments_AreChecked()
    {
        BlockwiseQuantizer quantizer = BlockwiseQuantizer.Signed;
        Assert.Throws<ArgumentException>(() => quantizer.Quantize(new float[300], new byte[299], new float[2]));
        Assert.Throws<ArgumentException>(() => quantizer.Quantize(new float[300], new byte[300], new float[1]));
        Assert.Throws<ArgumentException>(() => quantizer.Dequantize(new byte[300], new float[1], new float[300]));
        Assert.Throws<ArgumentException>(() => quantizer.Dequantize(new byte[300], new float[2], new float[299]));
        Assert.Throws<ArgumentException>(() => quantizer.QuantizeBlock(new float[257], new byte[257]));
        Assert.Throws<ArgumentException>(() => quantizer.DequantizeBlock(new byte[10], 1f, new float[9]));
        var shared = new float[300];
        Assert.Throws<ArgumentException>(() => quantizer.Quantize(shared.AsSpan(0, 256), new byte[256], shared.AsSpan(10, 1)));

        float[] map = DynamicQuantizationMap.Create(true);
        Assert.Throws<ArgumentException>(() => new BlockwiseQuantizer(map.AsSpan(1)));
        float[] unsorted = (float[])map.Clone();
        (unsorted[3], unsorted[4]) = (unsorted[4], unsorted[3]);
        Assert.Throws<ArgumentException>(() => new BlockwiseQuantizer(unsorted));
        float[] noZero = (float[])map.Clone();
        noZero[127] = 1e-9f;
        Assert.Throws<ArgumentException>(() => new BlockwiseQuantizer(noZero));
        float[] outOfRange = (float[])map.Clone();
        outOfRange[255] = 1.5f;
        Assert.Throws<ArgumentException>(() => new BlockwiseQuantizer(outOfRange));
        float[] withNaN = (float[])map.Clone();
        withNaN[200] = float.NaN;
        Assert.Throws<ArgumentException>(() => new BlockwiseQuantizer(withNaN));

        var custom = new BlockwiseQuantizer(map);
        Assert.Equal(BlockwiseQuantizer.Signed.Map.ToArray(), custom.Map.ToArray());
        Assert.Equal(127, custom.ZeroCode);
        Assert.Equal(0, BlockwiseQuantizer.Unsigned.ZeroCode);
    }
}

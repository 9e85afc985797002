using System;
using System.Collections.Generic;
using System.Runtime.Intrinsics;
using Kernels.Precision;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>
/// <see cref="BlockwiseQuantizer"/>'s block quantization, vector <c>Encode</c> forms and dequantization against the
/// definition, on whichever of the Vector512/256/128/scalar paths this process runs (CI reruns this namespace with
/// <c>DOTNET_PreferredVectorBitWidth=256</c>, <c>DOTNET_EnableAVX2=0</c> and <c>DOTNET_EnableHWIntrinsic=0</c>).
/// </summary>
/// <remarks>
/// The definition, written out here and independent of the quantizer's code: the code of <c>y</c> is the number of
/// float midpoints <c>(map[k] + map[k+1]) · 0.5f</c> strictly below <c>y</c>, plus one when <c>y</c> equals the next
/// midpoint and that count is odd (ties to the even code); NaN codes as 0. A block's absmax is <c>max |x|</c>, its
/// values coded as <c>x / absmax</c>; a block holding NaN or ±∞ stores absmax NaN and the zero code; an all-zero block
/// absmax 0 and the zero code. Dequantization is <c>map[code] · absmax</c> in float.
/// </remarks>
public sealed class QuantizerBitExactTests
{
    public static TheoryData<bool> BothMaps => new() { true, false };

    private static BlockwiseQuantizer For(bool signed) => signed ? BlockwiseQuantizer.Signed : BlockwiseQuantizer.Unsigned;

    private static float[] Midpoints(ReadOnlySpan<float> map)
    {
        var midpoints = new float[255];
        for (int k = 0; k < 255; k++)
            midpoints[k] = (map[k] + map[k + 1]) * 0.5f;
        return midpoints;
    }

    /// <summary>The definition: a linear count over the midpoints.</summary>
    private static int Definition(float[] midpoints, float y)
    {
        if (float.IsNaN(y))
            return 0;
        int count = 0;
        while (count < 255 && midpoints[count] < y)
            count++;
        if (count < 255 && midpoints[count] == y && (count & 1) == 1)
            count++;
        return count;
    }

    /// <summary>Every code's value, each midpoint, and the floats next to them, in both signs.</summary>
    private static List<float> Edges(ReadOnlySpan<float> map)
    {
        float[] midpoints = Midpoints(map);
        var values = new List<float> { 0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, 1e-40f, -1e-40f, 1e-30f, -1e-30f };
        foreach (float x in map)
            values.AddRange([x, MathF.BitIncrement(x), MathF.BitDecrement(x)]);
        foreach (float m in midpoints)
            values.AddRange([m, MathF.BitIncrement(m), MathF.BitDecrement(m)]);
        int count = values.Count;
        for (int i = 0; i < count; i++)
            values.Add(-values[i]);
        values.RemoveAll(x => !(MathF.Abs(x) <= 1f));
        return values;
    }

    /// <summary>Quantizes <paramref name="values"/> (each in [−1, 1]) in blocks that also hold a 1, so the absmax is 1 and each value is coded as itself; every code must be the definition's.</summary>
    private static void AssertBlocksCodeAsDefinition(BlockwiseQuantizer quantizer, float[] midpoints, IReadOnlyList<float> values, int blockLength)
    {
        var block = new float[blockLength];
        var codes = new byte[blockLength];
        for (int start = 0; start < values.Count; start += blockLength - 1)
        {
            int n = Math.Min(blockLength - 1, values.Count - start);
            for (int j = 0; j < n; j++)
                block[j] = values[start + j];
            block[n] = (start & 1) == 0 ? 1f : -1f;   // the absmax 1 at a varying place and sign
            Assert.Equal(1f, quantizer.QuantizeBlock(block.AsSpan(0, n + 1), codes));
            for (int j = 0; j <= n; j++)
            {
                int expected = Definition(midpoints, block[j]);
                if (codes[j] != expected)
                    Assert.Fail($"{block[j]:R} (0x{BitConverter.SingleToUInt32Bits(block[j]):X8}) at {j} of {n + 1}: definition {expected}, quantized {codes[j]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void EveryCodeAndMidpoint_AndTheirNeighbours_QuantizeAsTheDefinition(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        float[] midpoints = Midpoints(quantizer.Map);
        List<float> edges = Edges(quantizer.Map);
        // Every midpoint is a tie: the even code of the two.
        for (int k = 0; k < 255; k++)
            Assert.Equal(k % 2 == 0 ? k : k + 1, Definition(midpoints, midpoints[k]));
        foreach (int length in new[] { 256, 255, 17, 16, 15, 2 })   // full blocks and every tail
            AssertBlocksCodeAsDefinition(quantizer, midpoints, edges, length);
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void SampledFloatsInMinusOneToOne_QuantizeAsTheDefinition(bool signed)
    {
        // Every 4099th bit pattern up to 1 (both signs): every binade, subnormals included, about 520,000 values.
        BlockwiseQuantizer quantizer = For(signed);
        float[] midpoints = Midpoints(quantizer.Map);
        var values = new List<float>();
        for (uint bits = 0; bits <= 0x3F80_0000u; bits += 4099)
        {
            values.Add(BitConverter.UInt32BitsToSingle(bits));
            values.Add(-BitConverter.UInt32BitsToSingle(bits));
        }
        AssertBlocksCodeAsDefinition(quantizer, midpoints, values, 256);
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void RandomBlocks_AtEveryScale_QuantizeAsTheDefinition(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        float[] midpoints = Midpoints(quantizer.Map);
        var random = new Random(signed ? 31 : 32);
        var codes = new byte[256];
        for (int trial = 0; trial < 3000; trial++)
        {
            int n = trial % 7 == 0 ? 1 + random.Next(256) : 256;
            float scale = MathF.Pow(10, -40 + 78 * random.NextSingle());   // subnormal to 1e38
            var block = new float[n];
            for (int j = 0; j < n; j++)
            {
                block[j] = (random.Next(6)) switch
                {
                    0 => 0f,
                    1 => -0f,
                    2 => scale * (random.NextSingle() * 2 - 1) * 1e-4f,
                    _ => scale * (random.NextSingle() * 2 - 1),
                };
                if (!signed && trial % 2 == 0)
                    block[j] = MathF.Abs(block[j]);
            }
            if (trial % 5 == 0)
                block[random.Next(n)] = -scale;   // the absmax negative
            if (trial % 11 == 0)
                block[random.Next(n)] = BitConverter.UInt32BitsToSingle(1 + (uint)random.Next(0x007F_FFFF));   // a subnormal
            float absmax = 0;
            foreach (float x in block)
                absmax = MathF.Max(absmax, MathF.Abs(x));

            Assert.Equal(absmax, quantizer.QuantizeBlock(block, codes));
            for (int j = 0; j < n; j++)
            {
                int expected = absmax == 0 ? quantizer.ZeroCode : Definition(midpoints, block[j] / absmax);
                if (codes[j] != expected)
                    Assert.Fail($"trial {trial}: {block[j]:R} / {absmax:R} at {j} of {n}: definition {expected}, quantized {codes[j]}");
            }
        }
    }

    [Theory]
    [InlineData(true, float.NaN)]
    [InlineData(false, float.NaN)]
    [InlineData(true, float.PositiveInfinity)]
    [InlineData(false, float.NegativeInfinity)]
    public void NonFiniteValue_GivesNaNAbsmaxAndZeroCodes(bool signed, float poison)
    {
        BlockwiseQuantizer quantizer = For(signed);
        foreach (int n in new[] { 1, 15, 16, 17, 256 })
        {
            var block = new float[n];
            for (int j = 0; j < n; j++)
                block[j] = 0.5f - j * 0.001f;
            block[n / 2] = poison;
            var codes = new byte[n];
            Assert.True(float.IsNaN(quantizer.QuantizeBlock(block, codes)));
            Assert.All(codes, c => Assert.Equal(quantizer.ZeroCode, c));
        }
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void VectorEncode_IsTheDefinition_LaneByLane_IncludingOutOfRangeAndNaN(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        float[] midpoints = Midpoints(quantizer.Map);
        List<float> inputs = Edges(quantizer.Map);
        inputs.AddRange([float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1.5f, -1.5f, 3e38f, -3e38f, MathF.BitIncrement(1f), MathF.BitDecrement(-1f)]);
        var random = new Random(5);
        for (int i = 0; i < 20_000; i++)
            inputs.Add((random.NextSingle() * 2 - 1) * MathF.Pow(10, -8 * random.NextSingle()));
        float[] all = [.. inputs];
        for (int i = 0; i + 16 <= all.Length; i += 7)
        {
            ReadOnlySpan<float> x = all.AsSpan(i, 16);
            Vector512<int> v512 = quantizer.Encode(Vector512.Create(x));
            Vector256<int> v256 = quantizer.Encode(Vector256.Create(x));
            Vector128<int> v128 = quantizer.Encode(Vector128.Create(x));
            for (int j = 0; j < 16; j++)
            {
                int expected = Definition(midpoints, x[j]);
                Assert.True(expected == quantizer.Encode(x[j]), $"{x[j]:R}: definition {expected}, scalar Encode {quantizer.Encode(x[j])}");
                if (v512.GetElement(j) != expected || (j < 8 && v256.GetElement(j) != expected) || (j < 4 && v128.GetElement(j) != expected))
                    Assert.Fail($"{x[j]:R}: definition {expected}, Vector512 {v512.GetElement(j)}, Vector256 {(j < 8 ? v256.GetElement(j) : -1)}, Vector128 {(j < 4 ? v128.GetElement(j) : -1)}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(BothMaps))]
    public void Dequantize_IsMapTimesAbsmax_ForEveryCodeAndTail(bool signed)
    {
        BlockwiseQuantizer quantizer = For(signed);
        ReadOnlySpan<float> map = quantizer.Map;
        var random = new Random(9);
        float[] scales = [1f, 0.37f, 3.1e-41f, 2.5e38f, 0f, float.NaN, float.PositiveInfinity];
        foreach (int n in new[] { 256, 255, 64, 63, 17, 16, 15, 1 })
        {
            var codes = new byte[n];
            var values = new float[n];
            for (int round = 0; round < 8; round++)
            {
                for (int j = 0; j < n; j++)
                    codes[j] = (byte)(round < 2 ? (j * 37 + round * 128) & 255 : random.Next(256));   // every code over the rounds
                foreach (float absmax in scales)
                {
                    quantizer.DequantizeBlock(codes, absmax, values);
                    for (int j = 0; j < n; j++)
                    {
                        float expected = map[codes[j]] * absmax;
                        if (BitConverter.SingleToInt32Bits(values[j]) != BitConverter.SingleToInt32Bits(expected) && !(float.IsNaN(expected) && float.IsNaN(values[j])))
                            Assert.Fail($"code {codes[j]} × {absmax:R} at {j} of {n}: expected {expected:R}, got {values[j]:R}");
                    }
                }
            }
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Numerics;
using Kernels.Precision;
using Xunit;

namespace Kernels.Tests.Precision;

/// <summary>
/// <see cref="DynamicQuantizationMap"/>: shape (256 ascending values, 0 and 1, the signed map's symmetry), every value
/// recomputed independently in exact binary arithmetic from bitsandbytes' definition, and a handful of values quoted
/// from a published dump of bitsandbytes' signed map.
/// </summary>
public sealed class DynamicQuantizationMapTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Create_Has256DistinctAscendingValues_WithZeroAndOne(bool signed)
    {
        float[] map = DynamicQuantizationMap.Create(signed);
        Assert.Equal(256, map.Length);
        for (int k = 1; k < map.Length; k++)
            if (!(map[k] > map[k - 1]))
                Assert.Fail($"map[{k}] = {map[k]:R} is not above map[{k - 1}] = {map[k - 1]:R}");
        Assert.Contains(0f, map);
        Assert.Equal(1f, map[255]);
        Assert.All(map, v => Assert.True(float.IsNormal(v) || v == 0f));
        if (signed)
        {
            // 127 negatives, 0, 127 positives, then 1: symmetric around 0 except for 1, which has no negative partner
            // (the smallest value is -0.99296875, rounded to float).
            Assert.Equal(0f, map[127]);
            Assert.Equal(0x00000000u, BitConverter.SingleToUInt32Bits(map[127]));   // +0
            for (int k = 0; k < 127; k++)
                Assert.Equal(-map[254 - k], map[k]);
            Assert.DoesNotContain(-1f, map);
            Assert.Equal(-0.99296875f, map[0], 1e-7f);
        }
        else
        {
            Assert.Equal(0f, map[0]);
            Assert.All(map, v => Assert.True(v >= 0f));
            Assert.Equal(0.99648438f, map[254], 1e-7f);   // the last midpoint of linspace(0.1, 1, 129): 1 - 0.9 / 256
        }
        // A new array each time.
        Assert.NotSame(map, DynamicQuantizationMap.Create(signed));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Create_MatchesExactRecomputationOfTheDefinition(bool signed)
    {
        float[] expected = Recompute(signed);
        float[] map = DynamicQuantizationMap.Create(signed);
        for (int k = 0; k < 256; k++)
            if (BitConverter.SingleToUInt32Bits(expected[k]) != BitConverter.SingleToUInt32Bits(map[k]))
                Assert.Fail($"map[{k}]: {map[k]:R}, recomputed {expected[k]:R}");
    }

    /// <summary>
    /// Values of bitsandbytes' signed map as printed by Python (float32 widened to double) in a public dump of
    /// <c>create_dynamic_map(signed=True)</c> (the <c>UINT8_GRID</c> table of a bitsandbytes re-implementation that cites
    /// bitsandbytes/functional.py). The entries chosen include ones where an unfused linspace would differ in the last bit.
    /// </summary>
    [Theory]
    [InlineData(0, "-0.992968738079071")]
    [InlineData(25, "-0.6414062976837158")]
    [InlineData(34, "-0.5148437023162842")]
    [InlineData(116, "-0.000493750034365803")]
    [InlineData(126, "-5.500000384017767e-07")]
    [InlineData(127, "0.0")]
    [InlineData(128, "5.500000384017767e-07")]
    [InlineData(165, "0.028281250968575478")]
    [InlineData(220, "0.5148437023162842")]
    [InlineData(229, "0.6414062976837158")]
    [InlineData(254, "0.992968738079071")]
    [InlineData(255, "1.0")]
    public void SignedMap_MatchesPublishedBitsandbytesValues(int index, string printed)
    {
        float expected = (float)double.Parse(printed, CultureInfo.InvariantCulture);
        Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(DynamicQuantizationMap.Create(true)[index]));
    }

    // ---------------------------------------------------------------- the independent recomputation

    /// <summary>
    /// bitsandbytes' construction in exact binary arithmetic, rounding to float32 exactly where PyTorch rounds: the
    /// linspace step, each linspace point (one rounding for <c>start + step·j</c>, the fused form), each sum of two
    /// points, each halving, each scaled value.
    /// </summary>
    private static float[] Recompute(bool signed)
    {
        var values = new List<float>();
        Dyadic start = Dyadic.Of(0.1f), end = Dyadic.Of(1f);
        for (int i = 0; i < 7; i++)
        {
            int points = signed ? (1 << i) + 1 : (1 << (i + 1)) + 1;
            int log2Intervals = BitOperations.Log2((uint)(points - 1));   // points - 1 is a power of two
            Dyadic step = Dyadic.Of((end - start).RoundToSingle()).Halved(log2Intervals).RoundToSingleDyadic();
            var linspace = new Dyadic[points];
            for (int j = 0; j < points; j++)
                linspace[j] = (j < points / 2 ? start + step * j : end - step * (points - 1 - j)).RoundToSingleDyadic();
            Dyadic scale = Dyadic.Of((float)double.Parse("1e" + (i - 6).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
            for (int j = 0; j + 1 < points; j++)
            {
                Dyadic mean = (linspace[j] + linspace[j + 1]).RoundToSingleDyadic().Halved(1).RoundToSingleDyadic();
                float value = (scale * mean).RoundToSingle();
                values.Add(value);
                if (signed)
                    values.Add(-value);
            }
        }
        values.Add(0f);
        values.Add(1f);
        values.Sort();
        return [.. values];
    }

    /// <summary>An exact binary number <c>Mantissa · 2^Exponent</c>.</summary>
    private readonly record struct Dyadic(BigInteger Mantissa, int Exponent)
    {
        public static Dyadic Of(float value)
        {
            Assert.True(float.IsFinite(value));
            uint bits = BitConverter.SingleToUInt32Bits(value);
            int exponent = (int)((bits >> 23) & 0xFF);
            BigInteger fraction = bits & 0x7F_FFFF;
            Dyadic magnitude = exponent == 0 ? new(fraction, -149) : new(fraction + (1 << 23), exponent - 150);
            return (bits >> 31) == 1 ? new(-magnitude.Mantissa, magnitude.Exponent) : magnitude;
        }

        public static Dyadic operator +(Dyadic a, Dyadic b)
        {
            int exponent = Math.Min(a.Exponent, b.Exponent);
            return new((a.Mantissa << (a.Exponent - exponent)) + (b.Mantissa << (b.Exponent - exponent)), exponent);
        }

        public static Dyadic operator -(Dyadic a, Dyadic b) => a + new Dyadic(-b.Mantissa, b.Exponent);

        public static Dyadic operator *(Dyadic a, Dyadic b) => new(a.Mantissa * b.Mantissa, a.Exponent + b.Exponent);

        public static Dyadic operator *(Dyadic a, int b) => new(a.Mantissa * b, a.Exponent);

        public Dyadic Halved(int times) => new(Mantissa, Exponent - times);

        public Dyadic RoundToSingleDyadic() => Of(RoundToSingle());

        /// <summary>Round to the nearest float, ties to even (normal results only, as every value here is).</summary>
        public float RoundToSingle()
        {
            if (Mantissa.IsZero)
                return 0f;
            BigInteger magnitude = BigInteger.Abs(Mantissa);
            int exponent = Exponent;
            int excess = (int)magnitude.GetBitLength() - 24;
            if (excess > 0)
            {
                BigInteger kept = magnitude >> excess;
                BigInteger dropped = magnitude - (kept << excess), half = BigInteger.One << (excess - 1);
                if (dropped > half || (dropped == half && !kept.IsEven))
                    kept += 1;
                magnitude = kept;
                exponent += excess;
            }
            double value = Math.ScaleB((double)magnitude, exponent);   // at most 25 bits: exact in double
            Assert.True(value >= Math.ScaleB(1, -126) && value < Math.ScaleB(1, 128), "only normal floats arise here");
            float result = (float)value;
            Assert.Equal(value, (double)result);
            return Mantissa.Sign < 0 ? -result : result;
        }
    }
}

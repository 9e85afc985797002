using System;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kernels.Precision;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Precision;

/// <summary>
/// <see cref="BFloat16"/>: the nearest conversion against an independent reference (the two neighbouring bfloat16
/// values compared as doubles) over every float bit pattern, the Vector128/256/512 and span forms against the scalar
/// over every pattern, widening over all 65,536 patterns, and the struct's special values, comparisons and formatting.
/// </summary>
/// <remarks>
/// Release build (or <c>KERNELS_PRECISION_EXHAUSTIVE=1</c>): all 2^32 floats; Debug: every 61st pattern (see
/// <see cref="AllFloats"/>). Either way the boundary classes (ties, overflow, subnormals, NaN payloads) are checked
/// explicitly below.
/// </remarks>
public sealed class BFloat16Tests
{
    private readonly ITestOutputHelper _output;

    public BFloat16Tests(ITestOutputHelper output) => _output = output;

    // ---------------------------------------------------------------- independent reference

    /// <summary>The value of a bfloat16 bit pattern (sign ignored) as a double; <c>0x7F80</c> stands for 2^128.</summary>
    private static double Magnitude(uint bf16)
    {
        int exponent = (int)((bf16 >> 7) & 0xFF);
        int fraction = (int)(bf16 & 0x7F);
        return exponent == 0 ? Math.ScaleB(fraction, -133) : Math.ScaleB(128 + fraction, exponent - 134);
    }

    /// <summary>Round to nearest, ties to even, decided on values: which of the two bfloat16 neighbours of |x| is closer.</summary>
    private static ushort ReferenceNearest(uint bits)
    {
        uint sign = bits >> 31;
        uint exponent = (bits >> 23) & 0xFF, fraction = bits & 0x7F_FFFF;
        if (exponent == 0xFF && fraction != 0)   // NaN: quiet, sign and the top 6 payload bits kept
            return (ushort)((sign << 15) | 0x7F80 | 0x40 | ((fraction >> 16) & 0x3F));
        if (exponent == 0xFF)
            return (ushort)((sign << 15) | 0x7F80);
        double magnitude = Math.Abs((double)BitConverter.UInt32BitsToSingle(bits));
        uint below = (bits & 0x7FFF_FFFF) >> 16;       // the neighbour toward zero
        double low = Magnitude(below), high = Magnitude(below + 1);
        double toLow = magnitude - low, toHigh = high - magnitude;   // exact: both are float-grid differences
        uint chosen = toLow < toHigh ? below : toHigh < toLow ? below + 1 : (below & 1) == 0 ? below : below + 1;
        return (ushort)((sign << 15) | chosen);
    }

    // ---------------------------------------------------------------- every float

    [Fact]
    public void FromSingle_EveryFloat_MatchesReferenceRounding()
    {
        var watch = Stopwatch.StartNew();
        (long mismatches, long visited) = AllFloats.Sweep((patterns, count) =>
        {
            long bad = 0;
            for (int i = 0; i < count; i++)
            {
                uint bits = patterns[i];
                if (((BFloat16)BitConverter.UInt32BitsToSingle(bits)).Bits != ReferenceNearest(bits))
                    bad++;
            }
            return bad;
        });
        _output.WriteLine($"{visited:N0} floats, {mismatches} mismatches, {watch.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void VectorForms_EveryFloat_MatchScalar()
    {
        var watch = Stopwatch.StartNew();
        (long mismatches, long visited) = AllFloats.Sweep((patterns, count) =>
        {
            ReadOnlySpan<float> floats = MemoryMarshal.Cast<uint, float>(patterns.AsSpan(0, count));
            ushort[] scalar = AllFloats.Scratch<ushort>(0, count), span = AllFloats.Scratch<ushort>(1, count);
            ushort[] v512 = AllFloats.Scratch<ushort>(2, count), v256 = AllFloats.Scratch<ushort>(3, count);
            ushort[] v128 = AllFloats.Scratch<ushort>(4, count), lanes = AllFloats.Scratch<ushort>(5, count);
            for (int i = 0; i < count; i++)
                scalar[i] = ((BFloat16)floats[i]).Bits;
            BFloat16Conversions.FromSingle(floats, MemoryMarshal.Cast<ushort, BFloat16>(span.AsSpan(0, count)));
            int whole = count / 32 * 32;
            for (int i = 0; i < whole; i += 32)
            {
                BFloat16Conversions.Narrow(Vector512.Create(floats[i..]), Vector512.Create(floats[(i + 16)..])).CopyTo(v512, i);
                BFloat16Conversions.Narrow(Vector256.Create(floats[i..]), Vector256.Create(floats[(i + 8)..])).CopyTo(v256, i);
                BFloat16Conversions.Narrow(Vector256.Create(floats[(i + 16)..]), Vector256.Create(floats[(i + 24)..])).CopyTo(v256, i + 16);
                for (int k = 0; k < 32; k += 8)
                    BFloat16Conversions.Narrow(Vector128.Create(floats[(i + k)..]), Vector128.Create(floats[(i + k + 4)..])).CopyTo(v128, i + k);
                for (int k = 0; k < 32; k += 4)
                {
                    Vector128<uint> rounded = BFloat16Conversions.RoundToNearestEven(Vector128.Create(floats[(i + k)..]));
                    for (int j = 0; j < 4; j++)
                    {
                        uint lane = rounded.GetElement(j);   // the high half must be zero
                        lanes[i + k + j] = lane <= 0xFFFF ? (ushort)lane : (ushort)(scalar[i + k + j] ^ 1);
                    }
                }
            }
            long bad = 0;
            for (int i = 0; i < count; i++)
                bad += span[i] != scalar[i] ? 1 : 0;
            foreach (ushort[] vector in new[] { v512, v256, v128, lanes })
            {
                if (!vector.AsSpan(0, whole).SequenceEqual(scalar.AsSpan(0, whole)))
                {
                    for (int i = 0; i < whole; i++)
                        bad += vector[i] != scalar[i] ? 1 : 0;
                }
            }
            return bad;
        });
        _output.WriteLine($"{visited:N0} floats, {mismatches} mismatches, {watch.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void ToSingle_EveryBFloat16_IsExactAndVectorFormsAgree()
    {
        var all = new BFloat16[65536];
        for (int b = 0; b < all.Length; b++)
            all[b] = BFloat16.FromBits((ushort)b);
        var span = new float[all.Length];
        BFloat16Conversions.ToSingle(all, span);
        ReadOnlySpan<ushort> bits = MemoryMarshal.Cast<BFloat16, ushort>(all);
        for (int b = 0; b < all.Length; b += 32)
        {
            (Vector512<float> lo512, Vector512<float> hi512) = BFloat16Conversions.Widen(Vector512.Create(bits[b..]));
            (Vector256<float> lo256, Vector256<float> hi256) = BFloat16Conversions.Widen(Vector256.Create(bits[b..]));
            (Vector128<float> lo128, Vector128<float> hi128) = BFloat16Conversions.Widen(Vector128.Create(bits[b..]));
            Vector128<float> lanes = BFloat16Conversions.ToSingle(Vector128.Create(0xABCD_0000u | bits[b], bits[b + 1], bits[b + 2], bits[b + 3]));
            for (int j = 0; j < 32; j++)
            {
                int pattern = b + j;
                float scalar = (float)all[pattern];
                uint expected;
                if ((pattern & 0x7F80) == 0x7F80)   // infinities and NaNs keep their bits exactly
                    expected = (uint)pattern << 16;
                else
                    expected = BitConverter.SingleToUInt32Bits((float)((pattern >> 15 == 1 ? -1 : 1) * Magnitude((uint)pattern & 0x7FFF)));
                Assert.Equal(expected, BitConverter.SingleToUInt32Bits(scalar));
                Assert.Equal(expected, BitConverter.SingleToUInt32Bits(span[pattern]));
                Assert.Equal(expected, BitConverter.SingleToUInt32Bits(j < 16 ? lo512.GetElement(j) : hi512.GetElement(j - 16)));
                if (j < 16)
                    Assert.Equal(expected, BitConverter.SingleToUInt32Bits(j < 8 ? lo256.GetElement(j) : hi256.GetElement(j - 8)));
                if (j < 8)
                    Assert.Equal(expected, BitConverter.SingleToUInt32Bits(j < 4 ? lo128.GetElement(j) : hi128.GetElement(j - 4)));
                if (j < 4)
                    Assert.Equal(expected, BitConverter.SingleToUInt32Bits(lanes.GetElement(j)));
                // Exact: rounding the widened value back gives the same bits (NaNs are already quiet or get quieted).
                if ((pattern & 0x7FFF) <= 0x7F80 || (pattern & 0x40) != 0)
                    Assert.Equal((ushort)pattern, ((BFloat16)scalar).Bits);
            }
        }
    }

    // ---------------------------------------------------------------- boundary classes

    [Theory]
    [InlineData(0x3F80_0000u, 0x3F80)]   // 1: exact
    [InlineData(0x3F80_8000u, 0x3F80)]   // 1 + 2^-8: tie, to even (down)
    [InlineData(0x3F81_8000u, 0x3F82)]   // tie, to even (up)
    [InlineData(0x3F80_8001u, 0x3F81)]   // just above the tie
    [InlineData(0x3F80_7FFFu, 0x3F80)]   // just below the tie
    [InlineData(0x3FFF_8000u, 0x4000)]   // the carry rolls into the exponent: (2 - 2^-8) rounds to 2
    [InlineData(0x7F7F_7FFFu, 0x7F7F)]   // below the midpoint above MaxValue: MaxValue
    [InlineData(0x7F7F_8000u, 0x7F80)]   // that midpoint: ties to even, which is +∞
    [InlineData(0x7F7F_FFFFu, 0x7F80)]   // float.MaxValue: +∞
    [InlineData(0xFF7F_FFFFu, 0xFF80)]   // -float.MaxValue: -∞
    [InlineData(0x7F80_0000u, 0x7F80)]   // +∞
    [InlineData(0xFF80_0000u, 0xFF80)]   // -∞
    [InlineData(0x0000_0001u, 0x0000)]   // smallest subnormal: rounds to +0
    [InlineData(0x8000_0001u, 0x8000)]   // and its negation to -0
    [InlineData(0x0000_8000u, 0x0000)]   // half of bf16's Epsilon: tie, to even (0)
    [InlineData(0x0001_8000u, 0x0002)]   // 1.5 Epsilon: tie, to even (2)
    [InlineData(0x0000_8001u, 0x0001)]   // just above half Epsilon: Epsilon
    [InlineData(0x007F_8000u, 0x0080)]   // the largest subnormals round up to the smallest normal
    [InlineData(0x7F80_0001u, 0x7FC0)]   // signalling NaN with a low payload: quiet NaN, not ∞
    [InlineData(0xFF80_0001u, 0xFFC0)]   // the same with the sign bit
    [InlineData(0x7FA5_0000u, 0x7FE5)]   // signalling NaN: quiet bit set, payload kept
    [InlineData(0xFFC0_0000u, 0xFFC0)]   // float.NaN
    [InlineData(0x7FFF_FFFFu, 0x7FFF)]   // all-ones payload: no carry into the sign
    [InlineData(0xFFFF_FFFFu, 0xFFFF)]
    public void FromSingle_BoundaryPatterns_RoundAsIeee(uint single, int expected)
    {
        float value = BitConverter.UInt32BitsToSingle(single);
        Assert.Equal((ushort)expected, ((BFloat16)value).Bits);
        Assert.Equal((ushort)expected, ReferenceNearest(single));
        var destination = new BFloat16[40];
        var source = new float[40];
        source.AsSpan().Fill(value);
        BFloat16Conversions.FromSingle(source, destination);
        Assert.All(destination, b => Assert.Equal((ushort)expected, b.Bits));
    }

    [Fact]
    public void Double_RoundsThroughFloat_AndWidensExactly()
    {
        // 1 + 2^-8 + 2^-30 is nearer 1 + 2^-7, but float rounds it to 1 + 2^-8 first: a tie that goes to 1.
        double d = 1 + Math.ScaleB(1, -8) + Math.ScaleB(1, -30);
        Assert.Equal(0x3F80, ((BFloat16)d).Bits);
        Assert.Equal(0x3F81, ((BFloat16)(1 + Math.ScaleB(1, -7))).Bits);
        for (int b = 0; b < 65536; b += 7)
        {
            BFloat16 value = BFloat16.FromBits((ushort)b);
            Assert.Equal(BitConverter.DoubleToUInt64Bits((float)value), BitConverter.DoubleToUInt64Bits((double)value));
        }
        Assert.Equal(BFloat16.PositiveInfinity.Bits, ((BFloat16)1e300).Bits);
        Assert.Equal(BFloat16.NegativeZero.Bits, ((BFloat16)(-1e-300)).Bits);
    }

    [Fact]
    public void Constants_HaveTheirBitPatterns()
    {
        Assert.Equal(0x0001, BFloat16.Epsilon.Bits);
        Assert.Equal(Math.ScaleB(1, -133), (double)BFloat16.Epsilon);
        Assert.Equal(0x7F7F, BFloat16.MaxValue.Bits);
        Assert.Equal((2 - Math.ScaleB(1, -7)) * Math.ScaleB(1, 127), (double)BFloat16.MaxValue);
        Assert.Equal(0xFF7F, BFloat16.MinValue.Bits);
        Assert.Equal(-(double)BFloat16.MaxValue, (double)BFloat16.MinValue);
        Assert.Equal(0x0080, BFloat16.MinNormal.Bits);
        Assert.Equal(Math.ScaleB(1, -126), (double)BFloat16.MinNormal);
        Assert.Equal(((BFloat16)float.NaN).Bits, BFloat16.NaN.Bits);
        Assert.True(BFloat16.IsNaN(BFloat16.NaN));
        Assert.Equal(float.PositiveInfinity, (float)BFloat16.PositiveInfinity);
        Assert.Equal(float.NegativeInfinity, (float)BFloat16.NegativeInfinity);
        Assert.Equal(0x0000, BFloat16.Zero.Bits);
        Assert.Equal(0x8000, BFloat16.NegativeZero.Bits);
        Assert.Equal(1f, (float)BFloat16.One);
        Assert.Equal(0x1234, BFloat16.FromBits(0x1234).Bits);
        Assert.Equal(2, Marshal.SizeOf<BFloat16>());
        Assert.Equal(2, System.Runtime.CompilerServices.Unsafe.SizeOf<BFloat16>());
    }

    [Fact]
    public void Classification_CoversEveryPattern()
    {
        for (int b = 0; b < 65536; b++)
        {
            BFloat16 value = BFloat16.FromBits((ushort)b);
            float widened = (float)value;
            Assert.Equal(float.IsNaN(widened), BFloat16.IsNaN(value));
            Assert.Equal(float.IsInfinity(widened), BFloat16.IsInfinity(value));
            Assert.Equal(float.IsFinite(widened), BFloat16.IsFinite(value));
            Assert.Equal(float.IsNegative(widened), BFloat16.IsNegative(value));
        }
    }

    [Fact]
    public void EqualityAndOrder_FollowFloat()
    {
        BFloat16 nan = BFloat16.NaN, otherNan = BFloat16.FromBits(0x7FC1), zero = BFloat16.Zero, negativeZero = BFloat16.NegativeZero;
        BFloat16 one = BFloat16.One, two = (BFloat16)2f;
#pragma warning disable CS1718 // comparison with itself is the point
        Assert.False(nan == nan);
        Assert.True(nan != nan);
#pragma warning restore CS1718
        Assert.True(nan.Equals(otherNan));
        Assert.Equal(nan.GetHashCode(), otherNan.GetHashCode());
        Assert.True(zero == negativeZero);
        Assert.True(zero.Equals(negativeZero));
        Assert.Equal(zero.GetHashCode(), negativeZero.GetHashCode());
        Assert.True(one < two && two > one && one <= BFloat16.One && two >= one);
        Assert.False(nan < one || nan > one || nan <= one || nan >= one);
        Assert.True(nan.CompareTo(BFloat16.NegativeInfinity) < 0);
        Assert.Equal(0, nan.CompareTo(otherNan));
        Assert.True(one.CompareTo(two) < 0);
        Assert.Equal(1, one.CompareTo(null));
        Assert.Throws<ArgumentException>(() => one.CompareTo((object)1f));
        Assert.True(one.Equals((object)BFloat16.One));
        Assert.False(one.Equals((object)1f));

        var sorted = new[] { two, nan, negativeZero, BFloat16.NegativeInfinity, one };
        Array.Sort(sorted);
        Assert.Equal(new[] { nan.Bits, BFloat16.NegativeInfinity.Bits, negativeZero.Bits, one.Bits, two.Bits }, Array.ConvertAll(sorted, b => b.Bits));
    }

    [Fact]
    public void ToString_EveryFiniteValue_IsShortestRoundTrip()
    {
        for (int b = 0; b < 65536; b++)
        {
            BFloat16 value = BFloat16.FromBits((ushort)b);
            if (!BFloat16.IsFinite(value))
                continue;
            string text = value.ToString(null, CultureInfo.InvariantCulture);
            Assert.Equal(value.Bits, ((BFloat16)float.Parse(text, CultureInfo.InvariantCulture)).Bits);
            // Shortest: one digit fewer does not round-trip (unless it is the single-digit form already).
            string digits = text.TrimStart('-');
            int significant = digits.Contains('E') ? digits[..digits.IndexOf('E')].Replace(".", "").TrimStart('0').Length : digits.Replace(".", "").Trim('0').Length;
            if (significant > 1)
            {
                string shorter = ((float)value).ToString("G" + (significant - 1).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
                Assert.NotEqual(value.Bits, ((BFloat16)float.Parse(shorter, CultureInfo.InvariantCulture)).Bits);
            }
        }
        Assert.Equal("0.1", ((BFloat16)0.1f).ToString(null, CultureInfo.InvariantCulture));
        Assert.Equal("3.140625", ((BFloat16)3.14159f).ToString("R", CultureInfo.InvariantCulture));
        Assert.Equal("NaN", BFloat16.NaN.ToString(null, CultureInfo.InvariantCulture));
        Assert.Equal("-Infinity", BFloat16.NegativeInfinity.ToString(null, CultureInfo.InvariantCulture));
        var comma = new NumberFormatInfo { NumberDecimalSeparator = "," };
        Assert.Equal("0,1", ((BFloat16)0.1f).ToString(null, comma));
    }

    [Fact]
    public void SpanConversions_EveryLength_MatchScalarAndLeaveTheRestAlone()
    {
        var random = new Random(20261);
        foreach (int length in new[] { 0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000 })
        {
            var source = new float[length];
            for (int i = 0; i < length; i++)
                source[i] = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
            var narrow = new BFloat16[length + 3];
            narrow.AsSpan().Fill(BFloat16.FromBits(0xBEEF));
            BFloat16Conversions.FromSingle(source, narrow);
            var wide = new float[length + 3];
            wide.AsSpan().Fill(42f);
            BFloat16Conversions.ToSingle(narrow.AsSpan(0, length), wide);
            for (int i = 0; i < length; i++)
            {
                Assert.Equal(((BFloat16)source[i]).Bits, narrow[i].Bits);
                Assert.Equal(BitConverter.SingleToUInt32Bits((float)narrow[i]), BitConverter.SingleToUInt32Bits(wide[i]));
            }
            for (int i = length; i < length + 3; i++)
            {
                Assert.Equal(0xBEEF, narrow[i].Bits);
                Assert.Equal(42f, wide[i]);
            }
        }
    }

    [Fact]
    public void SpanConversions_RejectShortOrOverlappingDestinations()
    {
        Assert.Throws<ArgumentException>(() => BFloat16Conversions.FromSingle(new float[4], new BFloat16[3]));
        Assert.Throws<ArgumentException>(() => BFloat16Conversions.ToSingle(new BFloat16[4], new float[3]));
        Assert.Throws<ArgumentException>(() => BFloat16Conversions.FromSingleStochastic(new float[4], new BFloat16[3], 1, 1, 0));
        var buffer = new float[8];
        Assert.Throws<ArgumentException>(() => BFloat16Conversions.FromSingle(buffer.AsSpan(0, 4), MemoryMarshal.Cast<float, BFloat16>(buffer.AsSpan(2))));
        Assert.Throws<ArgumentException>(() => BFloat16Conversions.ToSingle(MemoryMarshal.Cast<float, BFloat16>(buffer.AsSpan(0, 2)), buffer.AsSpan(1, 4)));
        BFloat16Conversions.FromSingle(buffer.AsSpan(0, 4), MemoryMarshal.Cast<float, BFloat16>(buffer.AsSpan(4)));   // adjacent is fine
    }
}

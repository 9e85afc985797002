using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kernels.Precision;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Precision;

/// <summary>
/// <see cref="HalfConversions"/>: the span and Vector128/256/512 forms give the bits of .NET's <c>(float)h</c> for all
/// 65,536 halves and of <c>(Half)f</c> for every float pattern of the sweep (all 2^32 with
/// <c>KERNELS_PRECISION_EXHAUSTIVE=1</c>; see <see cref="AllFloats"/>), NaN payloads included.
/// </summary>
public sealed class HalfConversionTests
{
    private readonly ITestOutputHelper _output;

    public HalfConversionTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void ToSingle_EveryHalf_MatchesScalar()
    {
        var halves = new ushort[65536];
        for (int h = 0; h < halves.Length; h++)
            halves[h] = (ushort)h;
        var span = new float[halves.Length];
        HalfConversions.ToSingle(MemoryMarshal.Cast<ushort, Half>(halves), span);
        var v512 = new float[halves.Length];
        var v256 = new float[halves.Length];
        var v128 = new float[halves.Length];
        for (int h = 0; h < halves.Length; h += 32)
        {
            ReadOnlySpan<ushort> bits = halves.AsSpan(h);
            (Vector512<float> a, Vector512<float> b) = HalfConversions.Widen(Vector512.Create(bits));
            a.CopyTo(v512, h);
            b.CopyTo(v512, h + 16);
            for (int k = 0; k < 32; k += 16)
            {
                (Vector256<float> c, Vector256<float> d) = HalfConversions.Widen(Vector256.Create(bits[k..]));
                c.CopyTo(v256, h + k);
                d.CopyTo(v256, h + k + 8);
            }
            for (int k = 0; k < 32; k += 8)
            {
                (Vector128<float> c, Vector128<float> d) = HalfConversions.Widen(Vector128.Create(bits[k..]));
                c.CopyTo(v128, h + k);
                d.CopyTo(v128, h + k + 4);
            }
        }
        for (int h = 0; h < halves.Length; h++)
        {
            uint expected = BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)h));
            Assert.Equal(expected, BitConverter.SingleToUInt32Bits(span[h]));
            Assert.Equal(expected, BitConverter.SingleToUInt32Bits(v512[h]));
            Assert.Equal(expected, BitConverter.SingleToUInt32Bits(v256[h]));
            Assert.Equal(expected, BitConverter.SingleToUInt32Bits(v128[h]));
        }
        // A signalling NaN comes back quiet, as the scalar conversion does.
        Assert.Equal(0x7FC0_2000u, BitConverter.SingleToUInt32Bits(span[0x7C01]));
    }

    [Fact]
    public void FromSingle_EveryFloat_MatchesScalar()
    {
        var watch = Stopwatch.StartNew();
        (long mismatches, long visited) = AllFloats.Sweep((patterns, count) =>
        {
            ReadOnlySpan<float> floats = MemoryMarshal.Cast<uint, float>(patterns.AsSpan(0, count));
            ushort[] scalar = AllFloats.Scratch<ushort>(0, count), span = AllFloats.Scratch<ushort>(1, count);
            ushort[] v256 = AllFloats.Scratch<ushort>(2, count), v128 = AllFloats.Scratch<ushort>(3, count);
            ushort[] v512 = AllFloats.Scratch<ushort>(4, count);
            for (int i = 0; i < count; i++)
                scalar[i] = BitConverter.HalfToUInt16Bits((Half)floats[i]);
            HalfConversions.FromSingle(floats, MemoryMarshal.Cast<ushort, Half>(span.AsSpan(0, count)));   // the Vector512 path here
            int whole = count / 32 * 32;
            for (int i = 0; i < whole; i += 32)
                HalfConversions.Narrow(Vector512.Create(floats[i..]), Vector512.Create(floats[(i + 16)..])).CopyTo(v512, i);
            for (int i = 0; i < whole; i += 16)
            {
                HalfConversions.Narrow(Vector256.Create(floats[i..]), Vector256.Create(floats[(i + 8)..])).CopyTo(v256, i);
                HalfConversions.Narrow(Vector128.Create(floats[i..]), Vector128.Create(floats[(i + 4)..])).CopyTo(v128, i);
                HalfConversions.Narrow(Vector128.Create(floats[(i + 8)..]), Vector128.Create(floats[(i + 12)..])).CopyTo(v128, i + 8);
            }
            long bad = 0;
            if (!span.AsSpan(0, count).SequenceEqual(scalar.AsSpan(0, count)))
            {
                for (int i = 0; i < count; i++)
                    bad += span[i] != scalar[i] ? 1 : 0;
            }
            foreach (ushort[] vector in new[] { v512, v256, v128 })
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

    [Theory]
    [InlineData(65504f, 0x7BFF)]                     // the largest half
    [InlineData(65519.996f, 0x7BFF)]                 // just below the overflow midpoint
    [InlineData(65520f, 0x7C00)]                     // the midpoint: ties to even, which is +∞
    [InlineData(-65520f, 0xFC00)]
    [InlineData(6.1035156e-05f, 0x0400)]             // 2^-14, the smallest normal
    [InlineData(5.9604645e-08f, 0x0001)]             // 2^-24, the smallest subnormal
    [InlineData(2.9802322e-08f, 0x0000)]             // 2^-25: tie between 0 and 2^-24, to even (0)
    [InlineData(2.9802326e-08f, 0x0001)]             // just above it
    [InlineData(8.940697e-08f, 0x0002)]              // 1.5 · 2^-24: tie, to even (2)
    [InlineData(-1e-45f, 0x8000)]                    // float subnormal: -0
    [InlineData(1.0009766f, 0x3C01)]                 // 1 + 2^-10
    [InlineData(1.0004883f, 0x3C00)]                 // 1 + 2^-11: tie, to even
    public void FromSingle_BoundaryValues_RoundAsIeee(float value, int expected)
    {
        Assert.Equal((ushort)expected, BitConverter.HalfToUInt16Bits((Half)value));
        var source = new float[40];
        source.AsSpan().Fill(value);
        var destination = new Half[40];
        HalfConversions.FromSingle(source, destination);
        Assert.All(destination, h => Assert.Equal((ushort)expected, BitConverter.HalfToUInt16Bits(h)));
    }

    [Fact]
    public void Spans_RejectShortOrOverlappingDestinations()
    {
        Assert.Throws<ArgumentException>(() => HalfConversions.FromSingle(new float[4], new Half[3]));
        Assert.Throws<ArgumentException>(() => HalfConversions.ToSingle(new Half[4], new float[3]));
        var buffer = new float[8];
        Assert.Throws<ArgumentException>(() => HalfConversions.FromSingle(buffer.AsSpan(0, 4), MemoryMarshal.Cast<float, Half>(buffer.AsSpan(1))));
        HalfConversions.ToSingle(ReadOnlySpan<Half>.Empty, Span<float>.Empty);
    }
}

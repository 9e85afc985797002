using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kernels.Precision;
using Kernels.Tests.Numerics;
using Xunit;

namespace Kernels.Tests.Precision;

/// <summary>
/// <see cref="BFloat16.RoundStochastic"/> and <see cref="BFloat16Conversions.FromSingleStochastic"/>: always one of the
/// two neighbours, exactly unbiased over the 65,536 random values, unbiased within a stated statistical tolerance
/// with the <see cref="RandomStream"/> bits, NaN/∞/overflow behaviour, and the vector forms bit-identical to the scalar.
/// </summary>
public sealed class StochasticRoundingTests
{
    /// <summary>Finite floats of every kind: normal, subnormal, exactly representable, near the overflow border, both signs.</summary>
    private static IEnumerable<float> Values()
    {
        var random = new Random(7);
        foreach (float x in new[] { 1f, 1.00001f, 0.1f, -0.1f, 3.14159265f, 1e-3f, -123.456f, 65504.1f, 1e-40f, -1e-40f, 1e-44f, 2.5e-39f,
            BitConverter.UInt32BitsToSingle(0x3F80_0001), BitConverter.UInt32BitsToSingle(0x3F80_FFFF), BitConverter.UInt32BitsToSingle(0x007F_FFFF),
            BitConverter.UInt32BitsToSingle(0x7F7E_8001), 3e38f })
            yield return x;
        for (int i = 0; i < 200; i++)
        {
            uint bits = (uint)random.NextInt64(0, 1L << 32);
            if ((bits & 0x7F80_0000) != 0x7F80_0000 && (bits & 0x7FFF_0000) < 0x7F7F_0000)
                yield return BitConverter.UInt32BitsToSingle(bits);
        }
    }

    /// <summary>The bfloat16 neighbours of a finite float below the top bfloat16 binade's last step: toward zero and away from it.</summary>
    private static (float TowardZero, float AwayFromZero) Neighbours(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        uint truncated = bits & 0xFFFF_0000;
        return (BitConverter.UInt32BitsToSingle(truncated), BitConverter.UInt32BitsToSingle(truncated + 0x1_0000));
    }

    [Fact]
    public void RoundStochastic_OverAllRandomValues_IsOneOfTwoNeighbours_AndExactlyUnbiased()
    {
        foreach (float x in Values())
        {
            (float down, float up) = Neighbours(x);
            long ups = 0;
            double sum = 0;
            for (uint r = 0; r < 65536; r++)
            {
                float rounded = (float)BFloat16.RoundStochastic(x, r);
                if (!(rounded == down || rounded == up))
                    Assert.Fail($"{x:R} with {r} gave {rounded:R}, not {down:R} or {up:R}");
                ups += rounded == up && up != down ? 1 : 0;
                sum += rounded;
            }
            // The dropped fraction f/65536 is the probability of rounding away from zero, and the mean is x exactly
            // (every term is a multiple of the neighbours' spacing, so the double sum is exact).
            uint dropped = BitConverter.SingleToUInt32Bits(x) & 0xFFFF;
            Assert.Equal(dropped, (uint)ups);
            Assert.Equal((double)x, sum / 65536);
        }
    }

    [Fact]
    public void RoundStochastic_WithTheRandomStream_MeanMatchesInput_WithinFiveSigma()
    {
        // N draws of a Bernoulli(p) choice between the neighbours: the count of "away from zero" is Binomial(N, p),
        // so |count - N p| <= 5 sqrt(N p (1 - p)) + 1 fails by chance with probability below 10^-6 per value.
        const int N = 1 << 14;
        ulong seed = 0x5EED_0000_1234;
        int valueIndex = 0;
        foreach (float x in Values().Take(64))
        {
            (float down, float up) = Neighbours(x);
            double p = (BitConverter.SingleToUInt32Bits(x) & 0xFFFF) / 65536.0;
            long ups = 0;
            double sum = 0;
            for (int i = 0; i < N; i++)
            {
                float rounded = (float)BFloat16.RoundStochastic(x, RandomStream.Bits16(seed, (ulong)valueIndex, (ulong)i));
                ups += rounded == up && up != down ? 1 : 0;
                sum += rounded;
            }
            double sigma = Math.Sqrt(N * p * (1 - p));
            if (!(Math.Abs(ups - N * p) <= 5 * sigma + 1))
                Assert.Fail($"{x:R}: {ups} of {N} rounded up, expected {N * p:F1} ± {5 * sigma + 1:F1}");
            // The same statement for the mean itself, in units of the neighbours' spacing.
            double spacing = Math.Abs((double)up - down);
            if (!(Math.Abs(sum / N - x) <= (5 * sigma + 1) / N * spacing))
                Assert.Fail($"{x:R}: mean {sum / N:R}");
            valueIndex++;
        }
    }

    [Fact]
    public void RoundStochastic_KeepsNaNInfinityAndZero_AndOverflowsAsTheBitPatternDoes()
    {
        for (uint r = 0; r < 65536; r += 257)
        {
            Assert.Equal(0x7F80, BFloat16.RoundStochastic(float.PositiveInfinity, r).Bits);
            Assert.Equal(0xFF80, BFloat16.RoundStochastic(float.NegativeInfinity, r).Bits);
            Assert.Equal(0x0000, BFloat16.RoundStochastic(0f, r).Bits);
            Assert.Equal(0x8000, BFloat16.RoundStochastic(-0f, r).Bits);
            Assert.Equal(((BFloat16)float.NaN).Bits, BFloat16.RoundStochastic(float.NaN, r).Bits);
            Assert.Equal(0x7FC0, BFloat16.RoundStochastic(BitConverter.UInt32BitsToSingle(0x7F80_0001), r).Bits);   // quiet, not ∞
            Assert.Equal(0xFFFF, BFloat16.RoundStochastic(BitConverter.UInt32BitsToSingle(0xFFFF_FFFF), r).Bits);   // no wrap
            Assert.Equal(0x3F80, BFloat16.RoundStochastic(1f, r).Bits);                                             // exact stays
        }
        // float.MaxValue (0x7F7FFFFF): rounds to +∞ unless the random value is 0.
        Assert.Equal(0x7F7F, BFloat16.RoundStochastic(float.MaxValue, 0).Bits);
        Assert.Equal(0x7F80, BFloat16.RoundStochastic(float.MaxValue, 1).Bits);
        Assert.Equal(0xFF80, BFloat16.RoundStochastic(-float.MaxValue, 1).Bits);
        // Only the low 16 bits of the random value count.
        Assert.Equal(BFloat16.RoundStochastic(1.00001f, 0x1234).Bits, BFloat16.RoundStochastic(1.00001f, 0xABCD_1234).Bits);
    }

    [Fact]
    public void FromSingleStochastic_EveryLength_MatchesScalarRoundingWithTheStreamBits()
    {
        var random = new Random(99);
        foreach (int length in BitExact.Lengths())
        {
            foreach (ulong firstIndex in new ulong[] { 0, 5, (1ul << 32) - 7, ulong.MaxValue - 20 })
            {
                var source = new float[length];
                for (int i = 0; i < length; i++)
                {
                    source[i] = (i % 11) switch
                    {
                        0 => float.NaN,
                        1 => float.PositiveInfinity,
                        2 => BitConverter.UInt32BitsToSingle(0x7F80_0001),
                        3 => float.MaxValue,
                        4 => 1e-41f,
                        _ => BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)),
                    };
                }
                var destination = new BFloat16[length + 1];
                destination[length] = BFloat16.FromBits(0xBEEF);
                const ulong Seed = 0xC0FFEE, Step = 17;
                BFloat16Conversions.FromSingleStochastic(source, destination, Seed, Step, firstIndex);
                for (int i = 0; i < length; i++)
                {
                    ushort expected = BFloat16.RoundStochastic(source[i], RandomStream.Bits16(Seed, Step, firstIndex + (ulong)i)).Bits;
                    Assert.Equal(expected, destination[i].Bits);
                }
                Assert.Equal(0xBEEF, destination[length].Bits);
            }
        }
    }

    [Fact]
    public void RoundStochastic_VectorForms_MatchScalarLaneByLane()
    {
        var random = new Random(3);
        var values = new float[32];
        var bits = new uint[32];
        for (int trial = 0; trial < 10_000; trial++)
        {
            for (int j = 0; j < 32; j++)
            {
                values[j] = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
                bits[j] = (uint)random.NextInt64(0, 1L << 32);   // high bits set on purpose: only the low 16 count
            }
            ReadOnlySpan<float> f = values;
            ReadOnlySpan<uint> r = bits;
            Vector512<ushort> v512 = BFloat16Conversions.NarrowStochastic(Vector512.Create(f), Vector512.Create(f[16..]), Vector512.Create(r), Vector512.Create(r[16..]));
            Vector256<ushort> v256 = BFloat16Conversions.NarrowStochastic(Vector256.Create(f), Vector256.Create(f[8..]), Vector256.Create(r), Vector256.Create(r[8..]));
            Vector128<ushort> v128 = BFloat16Conversions.NarrowStochastic(Vector128.Create(f), Vector128.Create(f[4..]), Vector128.Create(r), Vector128.Create(r[4..]));
            Vector512<uint> lanes512 = BFloat16Conversions.RoundStochastic(Vector512.Create(f), Vector512.Create(r));
            Vector256<uint> lanes256 = BFloat16Conversions.RoundStochastic(Vector256.Create(f), Vector256.Create(r));
            for (int j = 0; j < 32; j++)
            {
                ushort scalar = BFloat16.RoundStochastic(values[j], bits[j]).Bits;
                Assert.Equal(scalar, v512.GetElement(j));
                if (j < 16)
                {
                    Assert.Equal(scalar, v256.GetElement(j));
                    Assert.Equal(scalar, lanes512.GetElement(j));
                }
                if (j < 8)
                {
                    Assert.Equal(scalar, v128.GetElement(j));
                    Assert.Equal(scalar, lanes256.GetElement(j));
                }
            }
        }
    }

    [Fact]
    public void FromSingleStochastic_DoesNotDependOnHowTheTensorIsSplit()
    {
        // The same tensor converted in one call and in uneven pieces (as threads or chunks would) gives the same bits.
        var random = new Random(5);
        var source = new float[3000];
        for (int i = 0; i < source.Length; i++)
            source[i] = (float)(random.NextDouble() * 2 - 1);
        var whole = new BFloat16[source.Length];
        BFloat16Conversions.FromSingleStochastic(source, whole, 42, 1000, 0);
        var pieces = new BFloat16[source.Length];
        int start = 0;
        foreach (int size in new[] { 1, 15, 16, 17, 31, 64, 100, 1024, 1732 })
        {
            BFloat16Conversions.FromSingleStochastic(source.AsSpan(start, size), pieces.AsSpan(start, size), 42, 1000, (ulong)start);
            start += size;
        }
        Assert.Equal(source.Length, start);
        Assert.Equal(MemoryMarshal.Cast<BFloat16, ushort>(whole).ToArray(), MemoryMarshal.Cast<BFloat16, ushort>(pieces).ToArray());
        // And another step gives other bits.
        var next = new BFloat16[source.Length];
        BFloat16Conversions.FromSingleStochastic(source, next, 42, 1001, 0);
        Assert.NotEqual(MemoryMarshal.Cast<BFloat16, ushort>(whole).ToArray(), MemoryMarshal.Cast<BFloat16, ushort>(next).ToArray());
    }
}

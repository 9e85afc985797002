using System;
using System.Runtime.Intrinsics;
using Kernels.Precision;
using Xunit;

namespace Kernels.Tests.Precision;

/// <summary>
/// <see cref="Philox4x32"/> against Random123's known answers, its Vector128/256/512 forms against the scalar, and
/// <see cref="RandomStream"/>: lanes equal the scalar stream at consecutive indices (across the 2^32 carry and the
/// 2^64 wrap), keyed by seed and step, and roughly uniform.
/// </summary>
public sealed class RandomStreamTests
{
    /// <summary>
    /// The three Philox4x32-10 lines of Random123's <c>tests/kat_vectors</c> (D. E. Shaw Research, random123 v1.14):
    /// counter (4 words), key (2 words), expected output (4 words).
    /// </summary>
    public static TheoryData<uint[], uint[], uint[]> KnownAnswers => new()
    {
        { [0x00000000, 0x00000000, 0x00000000, 0x00000000], [0x00000000, 0x00000000], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] },
        { [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd] },
        { [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1] },
    };

    [Theory]
    [MemberData(nameof(KnownAnswers))]
    public void Philox_KnownAnswers_MatchRandom123(uint[] counter, uint[] key, uint[] expected)
    {
        (uint x0, uint x1, uint x2, uint x3) = Philox4x32.Generate(counter[0], counter[1], counter[2], counter[3], key[0], key[1]);
        Assert.Equal(expected, new[] { x0, x1, x2, x3 });

        // Every lane of every vector form, with the known counter in one lane and other counters around it.
        for (int lane = 0; lane < 16; lane++)
        {
            var words = new uint[4][];
            for (int w = 0; w < 4; w++)
            {
                words[w] = new uint[16];
                for (int j = 0; j < 16; j++)
                    words[w][j] = j == lane ? counter[w] : (uint)(j * 0x9E3779B9 + w);
            }
            Vector512<uint> a0 = Vector512.Create(words[0]), a1 = Vector512.Create(words[1]), a2 = Vector512.Create(words[2]), a3 = Vector512.Create(words[3]);
            Philox4x32.Generate(ref a0, ref a1, ref a2, ref a3, key[0], key[1]);
            Assert.Equal(expected, new[] { a0.GetElement(lane), a1.GetElement(lane), a2.GetElement(lane), a3.GetElement(lane) });
            if (lane < 8)
            {
                Vector256<uint> b0 = Vector256.Create(words[0]), b1 = Vector256.Create(words[1]), b2 = Vector256.Create(words[2]), b3 = Vector256.Create(words[3]);
                Philox4x32.Generate(ref b0, ref b1, ref b2, ref b3, key[0], key[1]);
                Assert.Equal(expected, new[] { b0.GetElement(lane), b1.GetElement(lane), b2.GetElement(lane), b3.GetElement(lane) });
            }
            if (lane < 4)
            {
                Vector128<uint> c0 = Vector128.Create(words[0]), c1 = Vector128.Create(words[1]), c2 = Vector128.Create(words[2]), c3 = Vector128.Create(words[3]);
                Philox4x32.Generate(ref c0, ref c1, ref c2, ref c3, key[0], key[1]);
                Assert.Equal(expected, new[] { c0.GetElement(lane), c1.GetElement(lane), c2.GetElement(lane), c3.GetElement(lane) });
            }
        }
    }

    [Fact]
    public void Philox_VectorForms_MatchScalar_OnRandomCounters()
    {
        var random = new Random(11);
        var words = new uint[4][];
        for (int trial = 0; trial < 2000; trial++)
        {
            for (int w = 0; w < 4; w++)
            {
                words[w] = new uint[16];
                for (int j = 0; j < 16; j++)
                    words[w][j] = (uint)random.NextInt64(0, 1L << 32);
            }
            uint k0 = (uint)random.NextInt64(0, 1L << 32), k1 = (uint)random.NextInt64(0, 1L << 32);
            Vector512<uint> a0 = Vector512.Create(words[0]), a1 = Vector512.Create(words[1]), a2 = Vector512.Create(words[2]), a3 = Vector512.Create(words[3]);
            Philox4x32.Generate(ref a0, ref a1, ref a2, ref a3, k0, k1);
            Vector256<uint> b0 = Vector256.Create(words[0]), b1 = Vector256.Create(words[1]), b2 = Vector256.Create(words[2]), b3 = Vector256.Create(words[3]);
            Philox4x32.Generate(ref b0, ref b1, ref b2, ref b3, k0, k1);
            Vector128<uint> c0 = Vector128.Create(words[0]), c1 = Vector128.Create(words[1]), c2 = Vector128.Create(words[2]), c3 = Vector128.Create(words[3]);
            Philox4x32.Generate(ref c0, ref c1, ref c2, ref c3, k0, k1);
            for (int j = 0; j < 16; j++)
            {
                var scalar = Philox4x32.Generate(words[0][j], words[1][j], words[2][j], words[3][j], k0, k1);
                Assert.Equal(scalar, (a0.GetElement(j), a1.GetElement(j), a2.GetElement(j), a3.GetElement(j)));
                if (j < 8)
                    Assert.Equal(scalar, (b0.GetElement(j), b1.GetElement(j), b2.GetElement(j), b3.GetElement(j)));
                if (j < 4)
                    Assert.Equal(scalar, (c0.GetElement(j), c1.GetElement(j), c2.GetElement(j), c3.GetElement(j)));
            }
        }
    }

    [Fact]
    public void Stream_IsPhiloxOfIndexAndStepUnderTheSeed()
    {
        const ulong Seed = 0x0123_4567_89AB_CDEF, Step = 0xFEDC_BA98_7654_3210, Index = 0x1122_3344_5566_7788;
        var words = Philox4x32.Generate(0x5566_7788, 0x1122_3344, 0x7654_3210, 0xFEDC_BA98, 0x89AB_CDEF, 0x0123_4567);
        Assert.Equal(words.X0, RandomStream.Bits32(Seed, Step, Index));
        Assert.Equal(words.X0 >> 16, RandomStream.Bits16(Seed, Step, Index));
        // The first Random123 answer is the stream of seed 0, step 0, index 0.
        Assert.Equal(0x6627e8d5u, RandomStream.Bits32(0, 0, 0));
    }

    [Theory]
    [InlineData(0ul)]
    [InlineData(12345ul)]
    [InlineData(0xFFFF_FFF3ul)]              // lanes cross 2^32: the carry reaches the high counter word
    [InlineData(0x7_FFFF_FFFAul)]
    [InlineData(ulong.MaxValue - 9)]         // lanes wrap past 2^64 to index 0
    public void Stream_VectorLanes_AreTheScalarStreamAtConsecutiveIndices(ulong firstIndex)
    {
        foreach ((ulong seed, ulong step) in new[] { (0ul, 0ul), (42ul, 1ul), (ulong.MaxValue, 0x1_0000_0001ul) })
        {
            Vector128<uint> b4 = RandomStream.Bits32x4(seed, step, firstIndex);
            Vector256<uint> b8 = RandomStream.Bits32x8(seed, step, firstIndex);
            Vector512<uint> b16 = RandomStream.Bits32x16(seed, step, firstIndex);
            Vector128<uint> h4 = RandomStream.Bits16x4(seed, step, firstIndex);
            Vector256<uint> h8 = RandomStream.Bits16x8(seed, step, firstIndex);
            Vector512<uint> h16 = RandomStream.Bits16x16(seed, step, firstIndex);
            for (int j = 0; j < 16; j++)
            {
                ulong index = unchecked(firstIndex + (ulong)j);
                uint bits32 = RandomStream.Bits32(seed, step, index), bits16 = RandomStream.Bits16(seed, step, index);
                Assert.InRange(bits16, 0u, 0xFFFFu);
                Assert.Equal(bits32, b16.GetElement(j));
                Assert.Equal(bits16, h16.GetElement(j));
                if (j < 8)
                {
                    Assert.Equal(bits32, b8.GetElement(j));
                    Assert.Equal(bits16, h8.GetElement(j));
                }
                if (j < 4)
                {
                    Assert.Equal(bits32, b4.GetElement(j));
                    Assert.Equal(bits16, h4.GetElement(j));
                }
            }
        }
    }

    [Fact]
    public void Stream_DependsOnSeedStepAndIndex_AndIsRoughlyUniform()
    {
        // Changing any one key changes the bits.
        Assert.NotEqual(RandomStream.Bits32(1, 2, 3), RandomStream.Bits32(2, 2, 3));
        Assert.NotEqual(RandomStream.Bits32(1, 2, 3), RandomStream.Bits32(1, 3, 3));
        Assert.NotEqual(RandomStream.Bits32(1, 2, 3), RandomStream.Bits32(1, 2, 4));
        Assert.NotEqual(RandomStream.Bits32(1, 2, 3), RandomStream.Bits32(1ul << 32 | 1, 2, 3));   // the seed's high word counts
        Assert.NotEqual(RandomStream.Bits32(1, 2, 3), RandomStream.Bits32(1, 1ul << 32 | 2, 3));
        Assert.NotEqual(RandomStream.Bits32(1, 2, 3), RandomStream.Bits32(1, 2, 1ul << 32 | 3));

        // Chi-square over 256 bins of the top byte of Bits16 for 2^18 consecutive indices: 255 degrees of freedom,
        // mean 255, standard deviation 22.6; 400 is 6.4 sigma out.
        const int Draws = 1 << 18;
        var bins = new int[256];
        for (ulong i = 0; i < Draws; i += 16)
        {
            Vector512<uint> bits = RandomStream.Bits16x16(2026, 7, i);
            for (int j = 0; j < 16; j++)
                bins[bits.GetElement(j) >> 8]++;
        }
        double expected = Draws / 256.0, chiSquare = 0;
        foreach (int count in bins)
            chiSquare += (count - expected) * (count - expected) / expected;
        Assert.InRange(chiSquare, 150, 400);
    }
}

using System;
using System.Runtime.Intrinsics;
using Kernels.CompilerServices;
using Kernels.Precision;
using Xunit;

namespace Kernels.Tests.Precision;

/// <summary>
/// <see cref="Philox4x32"/> against Random123's known answers, its Vector128/256/512 forms against the scalar, and
/// <see cref="RandomStream"/>: <see cref="RandomStream.Bits16"/> is the documented layout (written out here from
/// the scalar generator), <see cref="RandomStream.Fill"/> and the loops' <see cref="StochasticBits"/> give those bits at
/// every alignment and across the 2^64 wrap, the bits depend on seed, step and index, and they are roughly uniform.
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

    /// <summary>
    /// The documented layout, from the scalar generator: element <c>i</c> takes, from Philox of counter
    /// <c>16·(i / 128) + i % 16</c>, word <c>(i / 16) % 4</c>, low half below <c>i % 128 = 64</c>, high half from there.
    /// </summary>
    private static uint Reference(ulong seed, ulong step, ulong index)
    {
        ulong group = index / 128, r = index % 128;
        ulong counter = group * 16 + r % 16;
        var words = Philox4x32.Generate((uint)counter, (uint)(counter >> 32), (uint)step, (uint)(step >> 32), (uint)seed, (uint)(seed >> 32));
        uint word = (r / 16 % 4) switch { 0 => words.X0, 1 => words.X1, 2 => words.X2, _ => words.X3 };
        return r < 64 ? word & 0xFFFF : word >> 16;
    }

    [Fact]
    public void Bits16_IsTheDocumentedWordHalfOfPhilox()
    {
        const ulong Seed = 0x0123_4567_89AB_CDEF, Step = 0xFEDC_BA98_7654_3210;
        // Element 0 of seed 0, step 0 is the low half of word 0 of Random123's first answer (0x6627e8d5); element 64
        // its high half; elements 16, 32, 48 the low halves of words 1–3 (0xe169c58d, 0xbc57ac4c, 0x9b00dbd8).
        Assert.Equal(0xe8d5u, RandomStream.Bits16(0, 0, 0));
        Assert.Equal(0x6627u, RandomStream.Bits16(0, 0, 64));
        Assert.Equal(0xc58du, RandomStream.Bits16(0, 0, 16));
        Assert.Equal(0xac4cu, RandomStream.Bits16(0, 0, 32));
        Assert.Equal(0xdbd8u, RandomStream.Bits16(0, 0, 48));
        Assert.Equal(0x9b00u, RandomStream.Bits16(0, 0, 112));
        foreach (ulong index in new ulong[] { 0, 1, 15, 16, 63, 64, 127, 128, 129, 0x1122_3344_5566_7788, 0xFFFF_FFFF_FFFF_FF80, ulong.MaxValue })
            Assert.Equal(Reference(Seed, Step, index), RandomStream.Bits16(Seed, Step, index));
        var random = new Random(5);
        for (int trial = 0; trial < 4000; trial++)
        {
            ulong seed = (ulong)random.NextInt64(), step = (ulong)random.NextInt64(), index = (ulong)random.NextInt64() << 1 ^ (ulong)random.Next(2);
            Assert.Equal(Reference(seed, step, index), RandomStream.Bits16(seed, step, index));
        }
    }

    [Theory]
    [InlineData(0ul, 1000)]
    [InlineData(5ul, 300)]              // a run that starts mid-group
    [InlineData(127ul, 2)]              // one element on each side of a group boundary
    [InlineData(0xFFFF_FFF3ul, 700)]    // across 2^32 elements
    [InlineData(ulong.MaxValue - 200, 500)]   // wraps past 2^64 to index 0
    public void Fill_GivesBits16AtEveryIndex(ulong firstIndex, int count)
    {
        foreach ((ulong seed, ulong step) in new[] { (0ul, 0ul), (42ul, 1ul), (ulong.MaxValue, 0x1_0000_0001ul) })
        {
            var filled = new ushort[count];
            RandomStream.Fill(seed, step, firstIndex, filled);
            for (int i = 0; i < count; i++)
                Assert.Equal(Reference(seed, step, unchecked(firstIndex + (ulong)i)), filled[i]);
        }
    }

    [Theory]
    [InlineData(0ul)]
    [InlineData(3ul)]
    [InlineData(120ul)]
    [InlineData(250ul)]
    [InlineData(ulong.MaxValue - 300)]   // the run wraps past 2^64; a vector straddles the wrap
    public void StochasticBits_GiveBits16_ForEveryRequestPattern(ulong firstIndex)
    {
        // Requests as the loops make them (forward runs of 16, 8, 4 and 1) and in an arbitrary order (a run that
        // straddles groups, jumps back and ahead): the window refills whatever it lacks.
        const ulong Seed = 77, Step = 9;
        var bits = new StochasticBits(new StochasticRounding(Seed, Step, firstIndex));
        void Check(nuint index, int count)
        {
            ref ushort at = ref bits.At(index, count);
            for (int j = 0; j < count; j++)
                Assert.Equal(Reference(Seed, Step, unchecked(firstIndex + index + (ulong)j)), System.Runtime.CompilerServices.Unsafe.Add(ref at, j));
        }
        nuint i = 0;
        foreach (int width in new[] { 16, 8, 4, 1 })
        {
            for (int k = 0; k < 40; k++, i += (nuint)width)
                Check(i, width);
        }
        var random = new Random(3);
        for (int trial = 0; trial < 2000; trial++)
            Check((nuint)random.Next(0, 600), random.Next(1, 17));
    }

    [Fact]
    public void Stream_DependsOnSeedStepAndIndex_AndIsRoughlyUniform()
    {
        // Changing any one key changes the bits (for these keys; a 16-bit value repeats by chance 1 time in 65,536).
        Assert.NotEqual(RandomStream.Bits16(1, 2, 3), RandomStream.Bits16(2, 2, 3));
        Assert.NotEqual(RandomStream.Bits16(1, 2, 3), RandomStream.Bits16(1, 3, 3));
        Assert.NotEqual(RandomStream.Bits16(1, 2, 3), RandomStream.Bits16(1, 2, 4));
        Assert.NotEqual(RandomStream.Bits16(1, 2, 3), RandomStream.Bits16(1ul << 32 | 1, 2, 3));   // the seed's high word counts
        Assert.NotEqual(RandomStream.Bits16(1, 2, 3), RandomStream.Bits16(1, 1ul << 32 | 2, 3));
        Assert.NotEqual(RandomStream.Bits16(1, 2, 3), RandomStream.Bits16(1, 2, 1ul << 32 | 3));

        // Chi-square over 256 bins of each byte of 2^18 consecutive elements' bits (both bytes of every output half, so
        // all 128 bits of each call are looked at): 255 degrees of freedom, mean 255, standard deviation 22.6; 400 is
        // 6.4 sigma out. And the two halves of one word (elements i and i + 64 of a group, each pair once): the top byte
        // of their XOR must be uniform too.
        const int Draws = 1 << 18;
        var filled = new ushort[2 * Draws];
        RandomStream.Fill(2026, 7, 0, filled);
        int LowHalf(int k) => k / 64 * 128 + k % 64;   // the k-th element whose bits are a low half
        double expected = Draws / 256.0;
        foreach (Func<int, int> bin in new Func<int, int>[] { i => filled[i] >> 8, i => filled[i] & 0xFF, k => (filled[LowHalf(k)] ^ filled[LowHalf(k) + 64]) >> 8 })
        {
            var bins = new int[256];
            for (int i = 0; i < Draws; i++)
                bins[bin(i)]++;
            double chiSquare = 0;
            foreach (int count in bins)
                chiSquare += (count - expected) * (count - expected) / expected;
            Assert.InRange(chiSquare, 150, 400);
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Precision;

/// <summary>
/// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel Random Numbers: As Easy as
/// 1, 2, 3" (SC 2011), as in the Random123 library: a keyed bijection of a 128-bit counter (four 32-bit words) under a
/// 64-bit key (two words), 10 rounds. The same (counter, key) always gives the same four words, so any element's random
/// bits can be computed independently of every other's.
/// </summary>
/// <remarks>
/// One round: <c>(hi0, lo0) = M0 · x0</c>, <c>(hi1, lo1) = M1 · x2</c> (full 64-bit products), then
/// <c>x = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0)</c>; between rounds the key advances by the Weyl constants
/// <c>(k0, k1) += (W0, W1)</c>. The vector forms run one independent generator per lane (the four counter words
/// arrive as four vectors, lane <c>j</c> of each holding generator <c>j</c>'s word) and give each lane the scalar bits.
/// Verified against Random123's published known-answer vectors (<c>tests/kat_vectors</c>).
/// </remarks>
public static class Philox4x32
{
    /// <summary>The multiplier applied to word 0.</summary>
    public const uint M0 = 0xD251_1F53;

    /// <summary>The multiplier applied to word 2.</summary>
    public const uint M1 = 0xCD9E_8D57;

    /// <summary>The Weyl increment of key word 0 (the golden ratio).</summary>
    public const uint W0 = 0x9E37_79B9;

    /// <summary>The Weyl increment of key word 1 (√3 - 1).</summary>
    public const uint W1 = 0xBB67_AE85;

    /// <summary>The number of rounds.</summary>
    public const int Rounds = 10;

    /// <summary>The four output words for counter (<paramref name="x0"/>…<paramref name="x3"/>) under key (<paramref name="k0"/>, <paramref name="k1"/>).</summary>
    /// <param name="x0">Counter word 0.</param>
    /// <param name="x1">Counter word 1.</param>
    /// <param name="x2">Counter word 2.</param>
    /// <param name="x3">Counter word 3.</param>
    /// <param name="k0">Key word 0.</param>
    /// <param name="k1">Key word 1.</param>
    /// <returns>The four random words.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Generate(uint x0, uint x1, uint x2, uint x3, uint k0, uint k1)
    {
        for (int round = 0; round < Rounds; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            ulong p0 = (ulong)M0 * x0;
            ulong p1 = (ulong)M1 * x2;
            uint y0 = (uint)(p1 >> 32) ^ x1 ^ k0;
            uint y2 = (uint)(p0 >> 32) ^ x3 ^ k1;
            x1 = (uint)p1;
            x3 = (uint)p0;
            x0 = y0;
            x2 = y2;
        }
        return (x0, x1, x2, x3);
    }

    /// <summary>Four generators, one per lane: on return each lane of <paramref name="x0"/>…<paramref name="x3"/> holds <see cref="Generate(uint, uint, uint, uint, uint, uint)"/> of that lane's counter.</summary>
    /// <param name="x0">Counter word 0 per lane; output word 0.</param>
    /// <param name="x1">Counter word 1 per lane; output word 1.</param>
    /// <param name="x2">Counter word 2 per lane; output word 2.</param>
    /// <param name="x3">Counter word 3 per lane; output word 3.</param>
    /// <param name="k0">Key word 0 (all lanes).</param>
    /// <param name="k1">Key word 1 (all lanes).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Generate(ref Vector128<uint> x0, ref Vector128<uint> x1, ref Vector128<uint> x2, ref Vector128<uint> x3, uint k0, uint k1)
    {
        for (int round = 0; round < Rounds; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            (Vector128<uint> hi0, Vector128<uint> lo0) = MultiplyHighLow(x0, M0);
            (Vector128<uint> hi1, Vector128<uint> lo1) = MultiplyHighLow(x2, M1);
            Vector128<uint> y0 = hi1 ^ x1 ^ Vector128.Create(k0);
            Vector128<uint> y2 = hi0 ^ x3 ^ Vector128.Create(k1);
            x1 = lo1;
            x3 = lo0;
            x0 = y0;
            x2 = y2;
        }
    }

    /// <summary>Eight generators, one per lane (see the <see cref="Vector128{T}"/> form).</summary>
    /// <param name="x0">Counter word 0 per lane; output word 0.</param>
    /// <param name="x1">Counter word 1 per lane; output word 1.</param>
    /// <param name="x2">Counter word 2 per lane; output word 2.</param>
    /// <param name="x3">Counter word 3 per lane; output word 3.</param>
    /// <param name="k0">Key word 0 (all lanes).</param>
    /// <param name="k1">Key word 1 (all lanes).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Generate(ref Vector256<uint> x0, ref Vector256<uint> x1, ref Vector256<uint> x2, ref Vector256<uint> x3, uint k0, uint k1)
    {
        for (int round = 0; round < Rounds; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            (Vector256<uint> hi0, Vector256<uint> lo0) = MultiplyHighLow(x0, M0);
            (Vector256<uint> hi1, Vector256<uint> lo1) = MultiplyHighLow(x2, M1);
            Vector256<uint> y0 = hi1 ^ x1 ^ Vector256.Create(k0);
            Vector256<uint> y2 = hi0 ^ x3 ^ Vector256.Create(k1);
            x1 = lo1;
            x3 = lo0;
            x0 = y0;
            x2 = y2;
        }
    }

    /// <summary>Sixteen generators, one per lane (see the <see cref="Vector128{T}"/> form).</summary>
    /// <param name="x0">Counter word 0 per lane; output word 0.</param>
    /// <param name="x1">Counter word 1 per lane; output word 1.</param>
    /// <param name="x2">Counter word 2 per lane; output word 2.</param>
    /// <param name="x3">Counter word 3 per lane; output word 3.</param>
    /// <param name="k0">Key word 0 (all lanes).</param>
    /// <param name="k1">Key word 1 (all lanes).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Generate(ref Vector512<uint> x0, ref Vector512<uint> x1, ref Vector512<uint> x2, ref Vector512<uint> x3, uint k0, uint k1)
    {
        for (int round = 0; round < Rounds; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            (Vector512<uint> hi0, Vector512<uint> lo0) = MultiplyHighLow(x0, M0);
            (Vector512<uint> hi1, Vector512<uint> lo1) = MultiplyHighLow(x2, M1);
            Vector512<uint> y0 = hi1 ^ x1 ^ Vector512.Create(k0);
            Vector512<uint> y2 = hi0 ^ x3 ^ Vector512.Create(k1);
            x1 = lo1;
            x3 = lo0;
            x0 = y0;
            x2 = y2;
        }
    }

    // The 64-bit products of 32-bit lanes: x86 multiplies the even lanes (PMULUDQ); the odd lanes are shifted down
    // into even position and multiplied the same way, and the halves are put back in lane order.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<uint> High, Vector128<uint> Low) MultiplyHighLow(Vector128<uint> a, uint m)
    {
        Vector128<ulong> even, odd;
        if (Sse2.IsSupported)
        {
            even = Sse2.Multiply(a, Vector128.Create(m));
            odd = Sse2.Multiply((a.AsUInt64() >> 32).AsUInt32(), Vector128.Create(m));
        }
        else
        {
            even = (a.AsUInt64() & Vector128.Create(0xFFFF_FFFFul)) * m;
            odd = (a.AsUInt64() >> 32) * m;
        }
        Vector128<ulong> high = (even >> 32) | (odd & Vector128.Create(0xFFFF_FFFF_0000_0000ul));
        Vector128<ulong> low = (even & Vector128.Create(0xFFFF_FFFFul)) | (odd << 32);
        return (high.AsUInt32(), low.AsUInt32());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<uint> High, Vector256<uint> Low) MultiplyHighLow(Vector256<uint> a, uint m)
    {
        Vector256<ulong> even, odd;
        if (Avx2.IsSupported)
        {
            even = Avx2.Multiply(a, Vector256.Create(m));
            odd = Avx2.Multiply((a.AsUInt64() >> 32).AsUInt32(), Vector256.Create(m));
        }
        else
        {
            even = (a.AsUInt64() & Vector256.Create(0xFFFF_FFFFul)) * m;
            odd = (a.AsUInt64() >> 32) * m;
        }
        Vector256<ulong> high = (even >> 32) | (odd & Vector256.Create(0xFFFF_FFFF_0000_0000ul));
        Vector256<ulong> low = (even & Vector256.Create(0xFFFF_FFFFul)) | (odd << 32);
        return (high.AsUInt32(), low.AsUInt32());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<uint> High, Vector512<uint> Low) MultiplyHighLow(Vector512<uint> a, uint m)
    {
        Vector512<ulong> even, odd;
        if (Avx512F.IsSupported)
        {
            even = Avx512F.Multiply(a, Vector512.Create(m));
            odd = Avx512F.Multiply((a.AsUInt64() >> 32).AsUInt32(), Vector512.Create(m));
        }
        else
        {
            even = (a.AsUInt64() & Vector512.Create(0xFFFF_FFFFul)) * m;
            odd = (a.AsUInt64() >> 32) * m;
        }
        Vector512<ulong> high = (even >> 32) | (odd & Vector512.Create(0xFFFF_FFFF_0000_0000ul));
        Vector512<ulong> low = (even & Vector512.Create(0xFFFF_FFFFul)) | (odd << 32);
        return (high.AsUInt32(), low.AsUInt32());
    }
}

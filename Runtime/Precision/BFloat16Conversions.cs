using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kernels.CompilerServices;

namespace Kernels.Precision;

/// <summary>
/// Span and per-vector conversions between <see cref="float"/> and <see cref="BFloat16"/>. Every form gives the bits of
/// the scalar conversions (<c>(BFloat16)f</c>, <c>(float)b</c>, <see cref="BFloat16.RoundStochastic"/>) for every input,
/// NaNs included.
/// </summary>
/// <remarks>
/// A bfloat16 vector is a vector of <see cref="ushort"/> bit patterns (<c>Vector512&lt;BFloat16&gt;</c> is not a
/// supported vector type). <c>Widen</c> turns one such vector into two float vectors (lanes 0…n/2-1, then the rest);
/// <c>Narrow</c> is its inverse. The one-vector forms (<c>ToSingle</c> on <see cref="uint"/> lanes,
/// <c>RoundToNearestEven</c>, <c>RoundStochastic</c>) keep one bfloat16 per 32-bit lane, in the low half, for code that
/// loads and stores through its own widening. AVX-512 BF16's <c>VCVTNEPS2BF16</c> is not used: it flushes subnormal
/// inputs to zero, so it is not bit-identical to the scalar conversion (and .NET 10 does not expose it).
/// </remarks>
public static class BFloat16Conversions
{
    // ---------------------------------------------------------------- spans

    /// <summary>Widens every bfloat16 of <paramref name="source"/> to float (exact).</summary>
    /// <param name="source">The values to convert.</param>
    /// <param name="destination">At least as long as <paramref name="source"/>; must not overlap it. Elements past <c>source.Length</c> are left alone.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short or overlaps <paramref name="source"/>.</exception>
    public static void ToSingle(ReadOnlySpan<BFloat16> source, Span<float> destination)
    {
        SpanChecks.Fits(destination.Length, source.Length, nameof(destination));
        SpanChecks.NoOverlap(source, destination, nameof(destination));
        ref ushort src = ref Unsafe.As<BFloat16, ushort>(ref MemoryMarshal.GetReference(source));
        ref float dst = ref MemoryMarshal.GetReference(destination);
        int n = source.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                (Vector512<float> lower, Vector512<float> upper) = Widen(Vector512.LoadUnsafe(ref src, (nuint)i));
                lower.StoreUnsafe(ref dst, (nuint)i);
                upper.StoreUnsafe(ref dst, (nuint)(i + Vector512<float>.Count));
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                (Vector256<float> lower, Vector256<float> upper) = Widen(Vector256.LoadUnsafe(ref src, (nuint)i));
                lower.StoreUnsafe(ref dst, (nuint)i);
                upper.StoreUnsafe(ref dst, (nuint)(i + Vector256<float>.Count));
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                (Vector128<float> lower, Vector128<float> upper) = Widen(Vector128.LoadUnsafe(ref src, (nuint)i));
                lower.StoreUnsafe(ref dst, (nuint)i);
                upper.StoreUnsafe(ref dst, (nuint)(i + Vector128<float>.Count));
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref dst, i) = BitConverter.UInt32BitsToSingle((uint)Unsafe.Add(ref src, i) << 16);
    }

    /// <summary>Rounds every float of <paramref name="source"/> to the nearest bfloat16 (ties to even), as <c>(BFloat16)f</c>.</summary>
    /// <param name="source">The values to convert.</param>
    /// <param name="destination">At least as long as <paramref name="source"/>; must not overlap it. Elements past <c>source.Length</c> are left alone.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short or overlaps <paramref name="source"/>.</exception>
    public static void FromSingle(ReadOnlySpan<float> source, Span<BFloat16> destination)
    {
        SpanChecks.Fits(destination.Length, source.Length, nameof(destination));
        SpanChecks.NoOverlap(source, destination, nameof(destination));
        ref float src = ref MemoryMarshal.GetReference(source);
        ref ushort dst = ref Unsafe.As<BFloat16, ushort>(ref MemoryMarshal.GetReference(destination));
        int n = source.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                Vector512<float> lower = Vector512.LoadUnsafe(ref src, (nuint)i);
                Vector512<float> upper = Vector512.LoadUnsafe(ref src, (nuint)(i + Vector512<float>.Count));
                Narrow(lower, upper).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                Vector256<float> lower = Vector256.LoadUnsafe(ref src, (nuint)i);
                Vector256<float> upper = Vector256.LoadUnsafe(ref src, (nuint)(i + Vector256<float>.Count));
                Narrow(lower, upper).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                Vector128<float> lower = Vector128.LoadUnsafe(ref src, (nuint)i);
                Vector128<float> upper = Vector128.LoadUnsafe(ref src, (nuint)(i + Vector128<float>.Count));
                Narrow(lower, upper).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref dst, i) = (ushort)BFloat16.RoundToNearestEvenBits(BitConverter.SingleToUInt32Bits(Unsafe.Add(ref src, i)));
    }

    /// <summary>
    /// Rounds every float of <paramref name="source"/> to bfloat16 stochastically: element <c>i</c> is
    /// <c>BFloat16.RoundStochastic(source[i], RandomStream.Bits16(seed, step, firstIndex + i))</c>, so the bits depend
    /// only on (seed, step, index) — not on the vector width, the chunking or the thread count.
    /// </summary>
    /// <param name="source">The values to round.</param>
    /// <param name="destination">At least as long as <paramref name="source"/>; must not overlap it.</param>
    /// <param name="seed">The stream's seed (use a different one per tensor).</param>
    /// <param name="step">The optimizer step (or any other counter that must give fresh bits).</param>
    /// <param name="firstIndex">The element index of <c>source[0]</c> within its tensor.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short or overlaps <paramref name="source"/>.</exception>
    public static void FromSingleStochastic(ReadOnlySpan<float> source, Span<BFloat16> destination, ulong seed, ulong step, ulong firstIndex)
    {
        SpanChecks.Fits(destination.Length, source.Length, nameof(destination));
        SpanChecks.NoOverlap(source, destination, nameof(destination));
        ref float src = ref MemoryMarshal.GetReference(source);
        ref ushort dst = ref Unsafe.As<BFloat16, ushort>(ref MemoryMarshal.GetReference(destination));
        int n = source.Length, i = 0;
        // One generator call per eight elements: the bits come a 128-element group at a time.
        var bits = new StochasticBits(new StochasticRounding(seed, step, firstIndex));
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                Vector512<float> lower = Vector512.LoadUnsafe(ref src, (nuint)i);
                Vector512<float> upper = Vector512.LoadUnsafe(ref src, (nuint)(i + Vector512<float>.Count));
                Vector512<uint> randomLower = Random512(ref bits, (nuint)i);
                Vector512<uint> randomUpper = Random512(ref bits, (nuint)(i + Vector512<float>.Count));
                NarrowStochastic(lower, upper, randomLower, randomUpper).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                Vector256<float> lower = Vector256.LoadUnsafe(ref src, (nuint)i);
                Vector256<float> upper = Vector256.LoadUnsafe(ref src, (nuint)(i + Vector256<float>.Count));
                Vector256<uint> randomLower = Random256(ref bits, (nuint)i);
                Vector256<uint> randomUpper = Random256(ref bits, (nuint)(i + Vector256<float>.Count));
                NarrowStochastic(lower, upper, randomLower, randomUpper).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                Vector128<float> lower = Vector128.LoadUnsafe(ref src, (nuint)i);
                Vector128<float> upper = Vector128.LoadUnsafe(ref src, (nuint)(i + Vector128<float>.Count));
                Vector128<uint> randomLower = Random128(ref bits, (nuint)i);
                Vector128<uint> randomUpper = Random128(ref bits, (nuint)(i + Vector128<float>.Count));
                NarrowStochastic(lower, upper, randomLower, randomUpper).StoreUnsafe(ref dst, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            uint random = bits.At((nuint)i, 1);
            Unsafe.Add(ref dst, i) = (ushort)BFloat16.RoundStochasticBits(BitConverter.SingleToUInt32Bits(Unsafe.Add(ref src, i)), random);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Random512(ref StochasticBits bits, nuint index) =>
        Vector512.WidenLower(Vector256.LoadUnsafe(ref bits.At(index, 16)).ToVector512Unsafe());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Random256(ref StochasticBits bits, nuint index) =>
        Vector256.WidenLower(Vector128.LoadUnsafe(ref bits.At(index, 8)).ToVector256Unsafe());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Random128(ref StochasticBits bits, nuint index) =>
        Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<ushort, byte>(ref bits.At(index, 4)))).AsUInt16());

    // ---------------------------------------------------------------- Vector128

    /// <summary>Widens eight bfloat16 bit patterns to floats (exact): lanes 0–3 in <c>Lower</c>, 4–7 in <c>Upper</c>.</summary>
    /// <param name="bits">Eight bfloat16 bit patterns.</param>
    /// <returns>The eight floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float> Lower, Vector128<float> Upper) Widen(Vector128<ushort> bits)
    {
        (Vector128<uint> lower, Vector128<uint> upper) = Vector128.Widen(bits);
        return ((lower << 16).AsSingle(), (upper << 16).AsSingle());
    }

    /// <summary>Rounds eight floats to the nearest bfloat16 (ties to even), as <c>(BFloat16)f</c> lane by lane.</summary>
    /// <param name="lower">Lanes 0–3 of the result.</param>
    /// <param name="upper">Lanes 4–7 of the result.</param>
    /// <returns>Eight bfloat16 bit patterns.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ushort> Narrow(Vector128<float> lower, Vector128<float> upper) =>
        Vector128.Narrow(RoundToNearestEven(lower), RoundToNearestEven(upper));

    /// <summary>Rounds eight floats to bfloat16 stochastically, as <see cref="BFloat16.RoundStochastic"/> lane by lane.</summary>
    /// <param name="lower">Lanes 0–3 of the result.</param>
    /// <param name="upper">Lanes 4–7 of the result.</param>
    /// <param name="randomLower">Random bits for <paramref name="lower"/> (low 16 of each lane used).</param>
    /// <param name="randomUpper">Random bits for <paramref name="upper"/> (low 16 of each lane used).</param>
    /// <returns>Eight bfloat16 bit patterns.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ushort> NarrowStochastic(Vector128<float> lower, Vector128<float> upper, Vector128<uint> randomLower, Vector128<uint> randomUpper) =>
        Vector128.Narrow(RoundStochastic(lower, randomLower), RoundStochastic(upper, randomUpper));

    /// <summary>Widens bfloat16 bit patterns held in the low half of each 32-bit lane to floats (exact).</summary>
    /// <param name="bits">One bfloat16 per lane, in the low 16 bits (the high 16 bits are ignored).</param>
    /// <returns>The floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ToSingle(Vector128<uint> bits) => (bits << 16).AsSingle();

    /// <summary>The nearest bfloat16 (ties to even) of each lane, as <c>(BFloat16)f</c>, in the low 16 bits of the lane (the high 16 are zero).</summary>
    /// <param name="value">Any floats.</param>
    /// <returns>The bfloat16 bit patterns, one per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> RoundToNearestEven(Vector128<float> value)
    {
        Vector128<uint> bits = value.AsUInt32();
        Vector128<uint> rounded = (bits + Vector128.Create(0x7FFFu) + ((bits >> 16) & Vector128<uint>.One)) >> 16;
        return Vector128.ConditionalSelect(IsNaN(bits), (bits >> 16) | Vector128.Create(0x40u), rounded);
    }

    /// <summary>The stochastic rounding of each lane, as <see cref="BFloat16.RoundStochastic"/>, in the low 16 bits of the lane.</summary>
    /// <param name="value">Any floats.</param>
    /// <param name="random16">Random bits per lane (low 16 used).</param>
    /// <returns>The bfloat16 bit patterns, one per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> RoundStochastic(Vector128<float> value, Vector128<uint> random16)
    {
        Vector128<uint> bits = value.AsUInt32();
        Vector128<uint> rounded = (bits + (random16 & Vector128.Create(0xFFFFu))) >> 16;
        return Vector128.ConditionalSelect(IsNaN(bits), (bits >> 16) | Vector128.Create(0x40u), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> IsNaN(Vector128<uint> bits) =>
        Vector128.GreaterThan((bits & Vector128.Create(0x7FFF_FFFFu)).AsInt32(), Vector128.Create(0x7F80_0000)).AsUInt32();

    // ---------------------------------------------------------------- Vector256

    /// <summary>Widens sixteen bfloat16 bit patterns to floats (exact): lanes 0–7 in <c>Lower</c>, 8–15 in <c>Upper</c>.</summary>
    /// <param name="bits">Sixteen bfloat16 bit patterns.</param>
    /// <returns>The sixteen floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<float> Lower, Vector256<float> Upper) Widen(Vector256<ushort> bits)
    {
        (Vector256<uint> lower, Vector256<uint> upper) = Vector256.Widen(bits);
        return ((lower << 16).AsSingle(), (upper << 16).AsSingle());
    }

    /// <summary>Rounds sixteen floats to the nearest bfloat16 (ties to even), as <c>(BFloat16)f</c> lane by lane.</summary>
    /// <param name="lower">Lanes 0–7 of the result.</param>
    /// <param name="upper">Lanes 8–15 of the result.</param>
    /// <returns>Sixteen bfloat16 bit patterns.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ushort> Narrow(Vector256<float> lower, Vector256<float> upper) =>
        Vector256.Narrow(RoundToNearestEven(lower), RoundToNearestEven(upper));

    /// <summary>Rounds sixteen floats to bfloat16 stochastically, as <see cref="BFloat16.RoundStochastic"/> lane by lane.</summary>
    /// <param name="lower">Lanes 0–7 of the result.</param>
    /// <param name="upper">Lanes 8–15 of the result.</param>
    /// <param name="randomLower">Random bits for <paramref name="lower"/> (low 16 of each lane used).</param>
    /// <param name="randomUpper">Random bits for <paramref name="upper"/> (low 16 of each lane used).</param>
    /// <returns>Sixteen bfloat16 bit patterns.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ushort> NarrowStochastic(Vector256<float> lower, Vector256<float> upper, Vector256<uint> randomLower, Vector256<uint> randomUpper) =>
        Vector256.Narrow(RoundStochastic(lower, randomLower), RoundStochastic(upper, randomUpper));

    /// <summary>Widens bfloat16 bit patterns held in the low half of each 32-bit lane to floats (exact).</summary>
    /// <param name="bits">One bfloat16 per lane, in the low 16 bits (the high 16 bits are ignored).</param>
    /// <returns>The floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToSingle(Vector256<uint> bits) => (bits << 16).AsSingle();

    /// <summary>The nearest bfloat16 (ties to even) of each lane, as <c>(BFloat16)f</c>, in the low 16 bits of the lane (the high 16 are zero).</summary>
    /// <param name="value">Any floats.</param>
    /// <returns>The bfloat16 bit patterns, one per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> RoundToNearestEven(Vector256<float> value)
    {
        Vector256<uint> bits = value.AsUInt32();
        Vector256<uint> rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        return Vector256.ConditionalSelect(IsNaN(bits), (bits >> 16) | Vector256.Create(0x40u), rounded);
    }

    /// <summary>The stochastic rounding of each lane, as <see cref="BFloat16.RoundStochastic"/>, in the low 16 bits of the lane.</summary>
    /// <param name="value">Any floats.</param>
    /// <param name="random16">Random bits per lane (low 16 used).</param>
    /// <returns>The bfloat16 bit patterns, one per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> RoundStochastic(Vector256<float> value, Vector256<uint> random16)
    {
        Vector256<uint> bits = value.AsUInt32();
        Vector256<uint> rounded = (bits + (random16 & Vector256.Create(0xFFFFu))) >> 16;
        return Vector256.ConditionalSelect(IsNaN(bits), (bits >> 16) | Vector256.Create(0x40u), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> IsNaN(Vector256<uint> bits) =>
        Vector256.GreaterThan((bits & Vector256.Create(0x7FFF_FFFFu)).AsInt32(), Vector256.Create(0x7F80_0000)).AsUInt32();

    // ---------------------------------------------------------------- Vector512

    /// <summary>Widens thirty-two bfloat16 bit patterns to floats (exact): lanes 0–15 in <c>Lower</c>, 16–31 in <c>Upper</c>.</summary>
    /// <param name="bits">Thirty-two bfloat16 bit patterns.</param>
    /// <returns>The thirty-two floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<float> Lower, Vector512<float> Upper) Widen(Vector512<ushort> bits)
    {
        (Vector512<uint> lower, Vector512<uint> upper) = Vector512.Widen(bits);
        return ((lower << 16).AsSingle(), (upper << 16).AsSingle());
    }

    /// <summary>Rounds thirty-two floats to the nearest bfloat16 (ties to even), as <c>(BFloat16)f</c> lane by lane.</summary>
    /// <param name="lower">Lanes 0–15 of the result.</param>
    /// <param name="upper">Lanes 16–31 of the result.</param>
    /// <returns>Thirty-two bfloat16 bit patterns.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ushort> Narrow(Vector512<float> lower, Vector512<float> upper) =>
        Vector512.Narrow(RoundToNearestEven(lower), RoundToNearestEven(upper));

    /// <summary>Rounds thirty-two floats to bfloat16 stochastically, as <see cref="BFloat16.RoundStochastic"/> lane by lane.</summary>
    /// <param name="lower">Lanes 0–15 of the result.</param>
    /// <param name="upper">Lanes 16–31 of the result.</param>
    /// <param name="randomLower">Random bits for <paramref name="lower"/> (low 16 of each lane used).</param>
    /// <param name="randomUpper">Random bits for <paramref name="upper"/> (low 16 of each lane used).</param>
    /// <returns>Thirty-two bfloat16 bit patterns.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ushort> NarrowStochastic(Vector512<float> lower, Vector512<float> upper, Vector512<uint> randomLower, Vector512<uint> randomUpper) =>
        Vector512.Narrow(RoundStochastic(lower, randomLower), RoundStochastic(upper, randomUpper));

    /// <summary>Widens bfloat16 bit patterns held in the low half of each 32-bit lane to floats (exact).</summary>
    /// <param name="bits">One bfloat16 per lane, in the low 16 bits (the high 16 bits are ignored).</param>
    /// <returns>The floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToSingle(Vector512<uint> bits) => (bits << 16).AsSingle();

    /// <summary>The nearest bfloat16 (ties to even) of each lane, as <c>(BFloat16)f</c>, in the low 16 bits of the lane (the high 16 are zero).</summary>
    /// <param name="value">Any floats.</param>
    /// <returns>The bfloat16 bit patterns, one per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> RoundToNearestEven(Vector512<float> value)
    {
        Vector512<uint> bits = value.AsUInt32();
        Vector512<uint> rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512<uint>.One)) >> 16;
        return Vector512.ConditionalSelect(IsNaN(bits), (bits >> 16) | Vector512.Create(0x40u), rounded);
    }

    /// <summary>The stochastic rounding of each lane, as <see cref="BFloat16.RoundStochastic"/>, in the low 16 bits of the lane.</summary>
    /// <param name="value">Any floats.</param>
    /// <param name="random16">Random bits per lane (low 16 used).</param>
    /// <returns>The bfloat16 bit patterns, one per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> RoundStochastic(Vector512<float> value, Vector512<uint> random16)
    {
        Vector512<uint> bits = value.AsUInt32();
        Vector512<uint> rounded = (bits + (random16 & Vector512.Create(0xFFFFu))) >> 16;
        return Vector512.ConditionalSelect(IsNaN(bits), (bits >> 16) | Vector512.Create(0x40u), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> IsNaN(Vector512<uint> bits) =>
        Vector512.GreaterThan((bits & Vector512.Create(0x7FFF_FFFFu)).AsInt32(), Vector512.Create(0x7F80_0000)).AsUInt32();
}

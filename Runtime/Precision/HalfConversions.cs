using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kernels.Precision;

/// <summary>
/// Span and per-vector conversions between <see cref="float"/> and IEEE 754 binary16 (<see cref="Half"/>), with the
/// bits of .NET's scalar <c>(Half)f</c> and <c>(float)h</c> for every input — checked over all 2^16 halves in every
/// test run and over all 2^32 floats in the exhaustive campaign (docs/Precision.md).
/// </summary>
/// <remarks>
/// <para>
/// Float → half rounds to nearest, ties to even: magnitudes from 65520 (the midpoint between 65504, the largest half,
/// and 65536) become ±∞; below 2^-14 the result is a subnormal half (a multiple of 2^-24), possibly ±0, never flushed.
/// A NaN becomes the quiet NaN <c>sign | 0x7E00 | (fraction &gt;&gt; 13)</c>: quiet bit set, top 9 payload bits kept.
/// Half → float is exact, except that a signalling half NaN comes back quiet (bit 22 set), as .NET's conversion does.
/// </para>
/// <para>
/// Vectors of halves are vectors of <see cref="ushort"/> bit patterns. x86 has F16C conversions (<c>VCVTPS2PH</c>), but
/// .NET 10 does not expose them; these forms are integer and float arithmetic that any vector ISA runs.
/// </para>
/// </remarks>
public static class HalfConversions
{
    private const uint SignMask = 0x8000_0000u;
    private const uint AbsMask = 0x7FFF_FFFFu;
    private const uint Infinity = 0x7F80_0000u;
    private const uint HalfOverflow = 0x477F_F000u;   // 65520: rounds to +∞
    private const uint HalfMinNormal = 0x3880_0000u;  // 2^-14
    private const uint Rebias = 0x3800_0000u;         // (127 - 15) << 23
    private const uint OneHalf = 0x3F00_0000u;        // 0.5f, whose ulp is 2^-24, the half subnormal step
    private const float TwoToMinus24 = 5.9604645E-08f;

    // ---------------------------------------------------------------- spans

    /// <summary>Widens every half of <paramref name="source"/> to float, as <c>(float)h</c>.</summary>
    /// <param name="source">The values to convert.</param>
    /// <param name="destination">At least as long as <paramref name="source"/>; must not overlap it. Elements past <c>source.Length</c> are left alone.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short or overlaps <paramref name="source"/>.</exception>
    public static void ToSingle(ReadOnlySpan<Half> source, Span<float> destination)
    {
        SpanChecks.Fits(destination.Length, source.Length, nameof(destination));
        SpanChecks.NoOverlap(source, destination, nameof(destination));
        ref ushort src = ref Unsafe.As<Half, ushort>(ref MemoryMarshal.GetReference(source));
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
        ref Half srcHalf = ref MemoryMarshal.GetReference(source);
        for (; i < n; i++)
            Unsafe.Add(ref dst, i) = (float)Unsafe.Add(ref srcHalf, i);
    }

    /// <summary>Rounds every float of <paramref name="source"/> to the nearest half (ties to even), as <c>(Half)f</c>.</summary>
    /// <param name="source">The values to convert.</param>
    /// <param name="destination">At least as long as <paramref name="source"/>; must not overlap it. Elements past <c>source.Length</c> are left alone.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short or overlaps <paramref name="source"/>.</exception>
    public static void FromSingle(ReadOnlySpan<float> source, Span<Half> destination)
    {
        SpanChecks.Fits(destination.Length, source.Length, nameof(destination));
        SpanChecks.NoOverlap(source, destination, nameof(destination));
        ref float src = ref MemoryMarshal.GetReference(source);
        ref ushort dst = ref Unsafe.As<Half, ushort>(ref MemoryMarshal.GetReference(destination));
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
        ref Half dstHalf = ref MemoryMarshal.GetReference(destination);
        for (; i < n; i++)
            Unsafe.Add(ref dstHalf, i) = (Half)Unsafe.Add(ref src, i);
    }

    // ---------------------------------------------------------------- Vector128

    /// <summary>Widens eight half bit patterns to floats, as <c>(float)h</c>: lanes 0–3 in <c>Lower</c>, 4–7 in <c>Upper</c>.</summary>
    /// <param name="bits">Eight half bit patterns.</param>
    /// <returns>The eight floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector128<float> Lower, Vector128<float> Upper) Widen(Vector128<ushort> bits)
    {
        (Vector128<uint> lower, Vector128<uint> upper) = Vector128.Widen(bits);
        return (ToSingle(lower), ToSingle(upper));
    }

    /// <summary>Rounds eight floats to the nearest halves (ties to even), as <c>(Half)f</c> lane by lane.</summary>
    /// <param name="lower">Lanes 0–3 of the result.</param>
    /// <param name="upper">Lanes 4–7 of the result.</param>
    /// <returns>Eight half bit patterns.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<ushort> Narrow(Vector128<float> lower, Vector128<float> upper) =>
        Vector128.Narrow(RoundToHalf(lower), RoundToHalf(upper));

    /// <summary>Widens half bit patterns held in the low half of each 32-bit lane to floats, as <c>(float)h</c>.</summary>
    /// <param name="bits">One half per lane, in the low 16 bits; the high 16 bits must be zero.</param>
    /// <returns>The floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ToSingle(Vector128<uint> bits)
    {
        Vector128<uint> sign = (bits & Vector128.Create(0x8000u)) << 16;
        Vector128<uint> shifted = (bits & Vector128.Create(0x7FFFu)) << 13;   // exponent and fraction in float position
        Vector128<uint> normal = shifted + Vector128.Create(Rebias);
        Vector128<uint> special = shifted | Vector128.Create(Infinity);       // ±∞ and NaN: exponent all ones
        special |= Vector128.GreaterThan(shifted, Vector128.Create(0x0F80_0000u)) & Vector128.Create(0x0040_0000u);   // NaN: quiet
        Vector128<uint> subnormal = (Vector128.ConvertToSingle(shifted.AsInt32()) * (TwoToMinus24 / 8192)).AsUInt32();
        Vector128<uint> result = Vector128.ConditionalSelect(Vector128.LessThan(shifted, Vector128.Create(0x0080_0000u)), subnormal, normal);
        result = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(shifted, Vector128.Create(0x0F80_0000u)), special, result);
        return (result | sign).AsSingle();
    }

    /// <summary>The nearest half (ties to even) of each lane, as <c>(Half)f</c>, in the low 16 bits of the lane (the high 16 are zero).</summary>
    /// <param name="value">Any floats.</param>
    /// <returns>The half bit patterns, one per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> RoundToHalf(Vector128<float> value)
    {
        Vector128<uint> bits = value.AsUInt32();
        Vector128<uint> sign = (bits & Vector128.Create(SignMask)) >> 16;
        Vector128<uint> abs = bits & Vector128.Create(AbsMask);
        Vector128<uint> normal = (abs - Vector128.Create(Rebias) + Vector128.Create(0xFFFu) + ((abs >> 13) & Vector128<uint>.One)) >> 13;
        Vector128<uint> subnormal = (abs.AsSingle() + Vector128.Create(OneHalf).AsSingle()).AsUInt32() - Vector128.Create(OneHalf);
        Vector128<uint> nan = Vector128.Create(0x7E00u) | ((abs >> 13) & Vector128.Create(0x3FFu));
        Vector128<int> absInt = abs.AsInt32();   // non-negative, so signed comparisons order it
        Vector128<uint> result = Vector128.ConditionalSelect(Vector128.LessThan(absInt, Vector128.Create((int)HalfMinNormal)).AsUInt32(), subnormal, normal);
        result = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(absInt, Vector128.Create((int)HalfOverflow)).AsUInt32(), Vector128.Create(0x7C00u), result);
        result = Vector128.ConditionalSelect(Vector128.GreaterThan(absInt, Vector128.Create((int)Infinity)).AsUInt32(), nan, result);
        return result | sign;
    }

    // ---------------------------------------------------------------- Vector256

    /// <summary>Widens sixteen half bit patterns to floats, as <c>(float)h</c>: lanes 0–7 in <c>Lower</c>, 8–15 in <c>Upper</c>.</summary>
    /// <param name="bits">Sixteen half bit patterns.</param>
    /// <returns>The sixteen floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<float> Lower, Vector256<float> Upper) Widen(Vector256<ushort> bits)
    {
        (Vector256<uint> lower, Vector256<uint> upper) = Vector256.Widen(bits);
        return (ToSingle(lower), ToSingle(upper));
    }

    /// <summary>Rounds sixteen floats to the nearest halves (ties to even), as <c>(Half)f</c> lane by lane.</summary>
    /// <param name="lower">Lanes 0–7 of the result.</param>
    /// <param name="upper">Lanes 8–15 of the result.</param>
    /// <returns>Sixteen half bit patterns.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ushort> Narrow(Vector256<float> lower, Vector256<float> upper) =>
        Vector256.Narrow(RoundToHalf(lower), RoundToHalf(upper));

    /// <summary>Widens half bit patterns held in the low half of each 32-bit lane to floats, as <c>(float)h</c>.</summary>
    /// <param name="bits">One half per lane, in the low 16 bits; the high 16 bits must be zero.</param>
    /// <returns>The floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToSingle(Vector256<uint> bits)
    {
        Vector256<uint> sign = (bits & Vector256.Create(0x8000u)) << 16;
        Vector256<uint> shifted = (bits & Vector256.Create(0x7FFFu)) << 13;
        Vector256<uint> normal = shifted + Vector256.Create(Rebias);
        Vector256<uint> special = shifted | Vector256.Create(Infinity);
        special |= Vector256.GreaterThan(shifted, Vector256.Create(0x0F80_0000u)) & Vector256.Create(0x0040_0000u);
        Vector256<uint> subnormal = (Vector256.ConvertToSingle(shifted.AsInt32()) * (TwoToMinus24 / 8192)).AsUInt32();
        Vector256<uint> result = Vector256.ConditionalSelect(Vector256.LessThan(shifted, Vector256.Create(0x0080_0000u)), subnormal, normal);
        result = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(shifted, Vector256.Create(0x0F80_0000u)), special, result);
        return (result | sign).AsSingle();
    }

    /// <summary>The nearest half (ties to even) of each lane, as <c>(Half)f</c>, in the low 16 bits of the lane (the high 16 are zero).</summary>
    /// <param name="value">Any floats.</param>
    /// <returns>The half bit patterns, one per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> RoundToHalf(Vector256<float> value)
    {
        Vector256<uint> bits = value.AsUInt32();
        Vector256<uint> sign = (bits & Vector256.Create(SignMask)) >> 16;
        Vector256<uint> abs = bits & Vector256.Create(AbsMask);
        Vector256<uint> normal = (abs - Vector256.Create(Rebias) + Vector256.Create(0xFFFu) + ((abs >> 13) & Vector256<uint>.One)) >> 13;
        Vector256<uint> subnormal = (abs.AsSingle() + Vector256.Create(OneHalf).AsSingle()).AsUInt32() - Vector256.Create(OneHalf);
        Vector256<uint> nan = Vector256.Create(0x7E00u) | ((abs >> 13) & Vector256.Create(0x3FFu));
        Vector256<int> absInt = abs.AsInt32();
        Vector256<uint> result = Vector256.ConditionalSelect(Vector256.LessThan(absInt, Vector256.Create((int)HalfMinNormal)).AsUInt32(), subnormal, normal);
        result = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(absInt, Vector256.Create((int)HalfOverflow)).AsUInt32(), Vector256.Create(0x7C00u), result);
        result = Vector256.ConditionalSelect(Vector256.GreaterThan(absInt, Vector256.Create((int)Infinity)).AsUInt32(), nan, result);
        return result | sign;
    }

    // ---------------------------------------------------------------- Vector512

    /// <summary>Widens thirty-two half bit patterns to floats, as <c>(float)h</c>: lanes 0–15 in <c>Lower</c>, 16–31 in <c>Upper</c>.</summary>
    /// <param name="bits">Thirty-two half bit patterns.</param>
    /// <returns>The thirty-two floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<float> Lower, Vector512<float> Upper) Widen(Vector512<ushort> bits)
    {
        (Vector512<uint> lower, Vector512<uint> upper) = Vector512.Widen(bits);
        return (ToSingle(lower), ToSingle(upper));
    }

    /// <summary>Rounds thirty-two floats to the nearest halves (ties to even), as <c>(Half)f</c> lane by lane.</summary>
    /// <param name="lower">Lanes 0–15 of the result.</param>
    /// <param name="upper">Lanes 16–31 of the result.</param>
    /// <returns>Thirty-two half bit patterns.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<ushort> Narrow(Vector512<float> lower, Vector512<float> upper) =>
        Vector512.Narrow(RoundToHalf(lower), RoundToHalf(upper));

    /// <summary>Widens half bit patterns held in the low half of each 32-bit lane to floats, as <c>(float)h</c>.</summary>
    /// <param name="bits">One half per lane, in the low 16 bits; the high 16 bits must be zero.</param>
    /// <returns>The floats.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToSingle(Vector512<uint> bits)
    {
        Vector512<uint> sign = (bits & Vector512.Create(0x8000u)) << 16;
        Vector512<uint> shifted = (bits & Vector512.Create(0x7FFFu)) << 13;
        Vector512<uint> normal = shifted + Vector512.Create(Rebias);
        Vector512<uint> special = shifted | Vector512.Create(Infinity);
        special |= Vector512.GreaterThan(shifted, Vector512.Create(0x0F80_0000u)) & Vector512.Create(0x0040_0000u);
        Vector512<uint> subnormal = (Vector512.ConvertToSingle(shifted.AsInt32()) * (TwoToMinus24 / 8192)).AsUInt32();
        Vector512<uint> result = Vector512.ConditionalSelect(Vector512.LessThan(shifted, Vector512.Create(0x0080_0000u)), subnormal, normal);
        result = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(shifted, Vector512.Create(0x0F80_0000u)), special, result);
        return (result | sign).AsSingle();
    }

    /// <summary>The nearest half (ties to even) of each lane, as <c>(Half)f</c>, in the low 16 bits of the lane (the high 16 are zero).</summary>
    /// <param name="value">Any floats.</param>
    /// <returns>The half bit patterns, one per lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> RoundToHalf(Vector512<float> value)
    {
        Vector512<uint> bits = value.AsUInt32();
        Vector512<uint> sign = (bits & Vector512.Create(SignMask)) >> 16;
        Vector512<uint> abs = bits & Vector512.Create(AbsMask);
        Vector512<uint> normal = (abs - Vector512.Create(Rebias) + Vector512.Create(0xFFFu) + ((abs >> 13) & Vector512<uint>.One)) >> 13;
        Vector512<uint> subnormal = (abs.AsSingle() + Vector512.Create(OneHalf).AsSingle()).AsUInt32() - Vector512.Create(OneHalf);
        Vector512<uint> nan = Vector512.Create(0x7E00u) | ((abs >> 13) & Vector512.Create(0x3FFu));
        Vector512<int> absInt = abs.AsInt32();
        Vector512<uint> result = Vector512.ConditionalSelect(Vector512.LessThan(absInt, Vector512.Create((int)HalfMinNormal)).AsUInt32(), subnormal, normal);
        result = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(absInt, Vector512.Create((int)HalfOverflow)).AsUInt32(), Vector512.Create(0x7C00u), result);
        result = Vector512.ConditionalSelect(Vector512.GreaterThan(absInt, Vector512.Create((int)Infinity)).AsUInt32(), nan, result);
        return result | sign;
    }
}

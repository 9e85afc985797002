using System;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kernels.Precision;

/// <summary>
/// A bfloat16 ("brain floating point") number: the high 16 bits of an IEEE 754 binary32 — 1 sign bit, 8 exponent
/// bits, 7 stored fraction bits. Same range as <see cref="float"/> (about ±3.39·10^38, subnormals down to
/// 9.18·10^-41), 8 significant bits (relative spacing 2^-7, unit roundoff 2^-8).
/// </summary>
/// <remarks>
/// <para>
/// Conversion from <see cref="float"/> rounds to nearest, ties to even, on the bit pattern:
/// <c>(bits + 0x7FFF + ((bits &gt;&gt; 16) &amp; 1)) &gt;&gt; 16</c>. That formula is exact for every non-NaN input: a
/// carry out of the fraction increments the exponent, which takes the largest finite floats (above
/// <c>0x7F7F8000</c>, the midpoint between <see cref="MaxValue"/> and infinity) to ±∞ as IEEE round-to-nearest
/// requires; subnormals round within the subnormal range and may round up to the smallest normal; no denormals are
/// flushed. A NaN stays a NaN with its sign, the quiet bit set and the top 6 bits of its payload kept (a signalling
/// NaN whose payload lies only in the low 16 bits would otherwise truncate to infinity).
/// </para>
/// <para>
/// Conversion to <see cref="float"/> is exact (a 16-bit shift). <see cref="double"/> goes through
/// <see cref="float"/>: <c>(BFloat16)d</c> is <c>(BFloat16)(float)d</c>, which rounds twice and can differ from
/// rounding <c>d</c> straight to bfloat16 when the first rounding lands exactly on a bfloat16 midpoint (for example
/// <c>1 + 2^-8 + 2^-30</c> becomes <c>1 + 2^-8</c> in float, a tie, and then 1 instead of <c>1 + 2^-7</c>).
/// </para>
/// <para>
/// Equality and ordering follow <see cref="float"/>: the operators are IEEE (NaN is unordered, +0 == -0);
/// <see cref="Equals(BFloat16)"/> and <see cref="CompareTo(BFloat16)"/> are <see cref="float.Equals(float)"/> and
/// <see cref="float.CompareTo(float)"/> of the widened values (NaN equals NaN and sorts first).
/// </para>
/// </remarks>
[StructLayout(LayoutKind.Sequential, Size = 2)]
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>, IComparable, IFormattable
{
    private readonly ushort _bits;

    private BFloat16(ushort bits) => _bits = bits;

    /// <summary>The raw bit pattern: the high 16 bits of the equal <see cref="float"/>.</summary>
    public ushort Bits
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _bits;
    }

    /// <summary>The bfloat16 whose bit pattern is <paramref name="bits"/>.</summary>
    /// <param name="bits">Any 16-bit pattern.</param>
    /// <returns>The value with exactly those bits.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>The smallest positive value, a subnormal: 2^-133 ≈ 9.18·10^-41 (bits <c>0x0001</c>).</summary>
    public static BFloat16 Epsilon => new(0x0001);

    /// <summary>The largest finite value: (2 - 2^-7)·2^127 ≈ 3.39·10^38 (bits <c>0x7F7F</c>).</summary>
    public static BFloat16 MaxValue => new(0x7F7F);

    /// <summary>The most negative finite value: -(2 - 2^-7)·2^127 (bits <c>0xFF7F</c>).</summary>
    public static BFloat16 MinValue => new(0xFF7F);

    /// <summary>The smallest positive normal value: 2^-126 (bits <c>0x0080</c>), the same as float's.</summary>
    public static BFloat16 MinNormal => new(0x0080);

    /// <summary>A quiet NaN, the conversion of <see cref="float.NaN"/> (bits <c>0xFFC0</c>: .NET's NaN has the sign bit set).</summary>
    public static BFloat16 NaN => new(0xFFC0);

    /// <summary>Positive infinity (bits <c>0x7F80</c>).</summary>
    public static BFloat16 PositiveInfinity => new(0x7F80);

    /// <summary>Negative infinity (bits <c>0xFF80</c>).</summary>
    public static BFloat16 NegativeInfinity => new(0xFF80);

    /// <summary>Positive zero (bits <c>0x0000</c>).</summary>
    public static BFloat16 Zero => new(0x0000);

    /// <summary>Negative zero (bits <c>0x8000</c>).</summary>
    public static BFloat16 NegativeZero => new(0x8000);

    /// <summary>One (bits <c>0x3F80</c>).</summary>
    public static BFloat16 One => new(0x3F80);

    /// <summary>Whether the value is a NaN.</summary>
    /// <param name="value">The value to test.</param>
    /// <returns><see langword="true"/> for every NaN bit pattern.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNaN(BFloat16 value) => (value._bits & 0x7FFF) > 0x7F80;

    /// <summary>Whether the value is +∞ or -∞.</summary>
    /// <param name="value">The value to test.</param>
    /// <returns><see langword="true"/> for the two infinities.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsInfinity(BFloat16 value) => (value._bits & 0x7FFF) == 0x7F80;

    /// <summary>Whether the value is finite (zero, subnormal or normal).</summary>
    /// <param name="value">The value to test.</param>
    /// <returns><see langword="false"/> for infinities and NaNs.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsFinite(BFloat16 value) => (value._bits & 0x7FFF) < 0x7F80;

    /// <summary>Whether the sign bit is set (true for -0 and for NaNs with the sign bit set).</summary>
    /// <param name="value">The value to test.</param>
    /// <returns>The sign bit.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNegative(BFloat16 value) => (short)value._bits < 0;

    // ---------------------------------------------------------------- bit-level rounding (shared with the vector forms)

    /// <summary>
    /// The bfloat16 bits nearest to the float with bits <paramref name="singleBits"/> (ties to even); a NaN keeps its
    /// sign and top payload bits and is made quiet.
    /// </summary>
    /// <param name="singleBits">The bit pattern of a float.</param>
    /// <returns>The bfloat16 bit pattern in the low 16 bits.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint RoundToNearestEvenBits(uint singleBits)
    {
        if ((singleBits & 0x7FFF_FFFFu) > 0x7F80_0000u)
            return (singleBits >> 16) | 0x0040u;
        return (singleBits + 0x7FFFu + ((singleBits >> 16) & 1u)) >> 16;
    }

    /// <summary>
    /// Stochastic rounding on bits: adds the low 16 bits of <paramref name="random16"/> to the low half of
    /// <paramref name="singleBits"/> and truncates. NaN as in <see cref="RoundToNearestEvenBits"/>.
    /// </summary>
    /// <param name="singleBits">The bit pattern of a float.</param>
    /// <param name="random16">Random bits; only the low 16 are used.</param>
    /// <returns>The bfloat16 bit pattern in the low 16 bits.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint RoundStochasticBits(uint singleBits, uint random16)
    {
        if ((singleBits & 0x7FFF_FFFFu) > 0x7F80_0000u)
            return (singleBits >> 16) | 0x0040u;
        return (singleBits + (random16 & 0xFFFFu)) >> 16;
    }

    // ---------------------------------------------------------------- conversions

    /// <summary>Rounds a float to the nearest bfloat16, ties to even (see the type's remarks for NaN, overflow and subnormals).</summary>
    /// <param name="value">Any float.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static explicit operator BFloat16(float value) =>
        new((ushort)RoundToNearestEvenBits(BitConverter.SingleToUInt32Bits(value)));

    /// <summary>The exact float value (the bits shifted into the high half).</summary>
    /// <param name="value">Any bfloat16.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static explicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value._bits << 16);

    /// <summary>
    /// Rounds a double to float, then to bfloat16 (two roundings; see the type's remarks for the rare inputs where that
    /// differs from a single rounding).
    /// </summary>
    /// <param name="value">Any double.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static explicit operator BFloat16(double value) => (BFloat16)(float)value;

    /// <summary>The exact double value.</summary>
    /// <param name="value">Any bfloat16.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static explicit operator double(BFloat16 value) => (float)value;

    /// <summary>
    /// Stochastic rounding: adds <paramref name="random16"/> (uniform on 0…65535) to the 16 bits that bfloat16 drops,
    /// then truncates. The result is one of the two bfloat16 values around <paramref name="value"/>, the one further
    /// from zero with probability equal to the dropped fraction, so the expected result is <paramref name="value"/>
    /// exactly; an exactly representable value is returned unchanged.
    /// </summary>
    /// <remarks>
    /// NaN stays NaN (as in the nearest conversion); ±∞ and ±0 stay as they are. Overflow follows the bit pattern:
    /// above <see cref="MaxValue"/> the next pattern is infinity, so a finite float between <see cref="MaxValue"/> and
    /// <see cref="float.MaxValue"/> becomes ±∞ with probability (low 16 bits)/65536 — infinity plays the part of the
    /// value 2^128 there, which keeps the rounding unbiased in that sense but can produce infinities the nearest
    /// rounding of the same value would not (nearest rounds up to ∞ only from <c>0x7F7F8000</c>).
    /// </remarks>
    /// <param name="value">Any float.</param>
    /// <param name="random16">Uniform random bits; only the low 16 are used.</param>
    /// <returns>The stochastically rounded value.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BFloat16 RoundStochastic(float value, uint random16) =>
        new((ushort)RoundStochasticBits(BitConverter.SingleToUInt32Bits(value), random16));

    // ---------------------------------------------------------------- comparison

    /// <summary>IEEE equality: false if either is NaN, true for +0 and -0.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator ==(BFloat16 left, BFloat16 right) => (float)left == (float)right;

    /// <summary>IEEE inequality: true if either is NaN.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator !=(BFloat16 left, BFloat16 right) => (float)left != (float)right;

    /// <summary>IEEE less-than (false when either is NaN).</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator <(BFloat16 left, BFloat16 right) => (float)left < (float)right;

    /// <summary>IEEE greater-than (false when either is NaN).</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator >(BFloat16 left, BFloat16 right) => (float)left > (float)right;

    /// <summary>IEEE less-than-or-equal (false when either is NaN).</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator <=(BFloat16 left, BFloat16 right) => (float)left <= (float)right;

    /// <summary>IEEE greater-than-or-equal (false when either is NaN).</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator >=(BFloat16 left, BFloat16 right) => (float)left >= (float)right;

    /// <summary>As <see cref="float.Equals(float)"/>: NaN equals NaN, +0 equals -0.</summary>
    /// <param name="other">The value to compare with.</param>
    /// <returns>Whether the two are equal in that sense.</returns>
    public bool Equals(BFloat16 other) => ((float)this).Equals((float)other);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);

    /// <summary>A hash consistent with <see cref="Equals(BFloat16)"/> (that of the widened float).</summary>
    /// <returns>The hash code.</returns>
    public override int GetHashCode() => ((float)this).GetHashCode();

    /// <summary>As <see cref="float.CompareTo(float)"/>: NaN sorts before every other value and equals NaN.</summary>
    /// <param name="other">The value to compare with.</param>
    /// <returns>Negative, zero or positive.</returns>
    public int CompareTo(BFloat16 other) => ((float)this).CompareTo((float)other);

    /// <inheritdoc/>
    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        BFloat16 other => CompareTo(other),
        _ => throw new ArgumentException("The object is not a BFloat16.", nameof(obj)),
    };

    // ---------------------------------------------------------------- formatting

    /// <summary>The shortest decimal string (current culture) that parses back, through float, to this bfloat16.</summary>
    /// <returns>For example "0.1" for the bfloat16 nearest 0.1 (whose exact value is 0.10009765625).</returns>
    public override string ToString() => ToString(null, null);

    /// <summary>
    /// Formats the value. With a null or empty <paramref name="format"/>: the shortest decimal string that parses back
    /// (with <paramref name="formatProvider"/>, through float and the nearest conversion) to the same bfloat16; with a
    /// format: the widened float formatted with it.
    /// </summary>
    /// <param name="format">A float format string, or null for the shortest round-trip form.</param>
    /// <param name="formatProvider">The culture; null for the current culture.</param>
    /// <returns>The formatted value.</returns>
    public string ToString(string? format, IFormatProvider? formatProvider)
    {
        float value = (float)this;
        if (!string.IsNullOrEmpty(format))
            return value.ToString(format, formatProvider);
        if (!float.IsFinite(value))
            return value.ToString(formatProvider);
        for (int digits = 1; digits < 9; digits++)
        {
            string text = value.ToString("G" + digits.ToString(CultureInfo.InvariantCulture), formatProvider);
            if (float.TryParse(text, NumberStyles.Float, formatProvider, out float parsed) && ((BFloat16)parsed)._bits == _bits)
                return text;
        }
        return value.ToString("R", formatProvider);
    }
}

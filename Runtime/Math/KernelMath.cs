using System;
using System.Runtime.CompilerServices;

namespace Kernels;

/// <summary>
/// <c>e^x</c> and <c>ln x</c> with one result per input, whatever computes it: the scalar methods here, the
/// <see cref="System.Runtime.Intrinsics.Vector128{T}"/>, <see cref="System.Runtime.Intrinsics.Vector256{T}"/> and
/// <see cref="System.Runtime.Intrinsics.Vector512{T}"/> overloads (lane by lane), and ILGPU kernels on any
/// accelerator (which compile the scalar methods as they are) all return the same bits.
/// </summary>
/// <remarks>
/// <para>
/// Contract, for <see cref="float"/> and for <see cref="double"/>: every result is within 1 ulp of the correctly
/// rounded result, over the whole range, subnormal inputs and results included (measured worst cases are in
/// <c>Tests/Kernels.Tests/Numerics/KernelMathTests.cs</c>). Special values follow .NET's <see cref="Math.Exp"/> and
/// <see cref="Math.Log(double)"/>: a NaN input gives NaN (the input itself); <c>Exp(+∞) = +∞</c>,
/// <c>Exp(-∞) = +0</c>, overflow gives +∞ and underflow +0 or a subnormal; <c>Log(±0) = -∞</c>,
/// <c>Log(+∞) = +∞</c>, <c>Log(negative) = NaN</c>.
/// </para>
/// <para>
/// Why the bits agree: the evaluation uses only operations IEEE 754 rounds exactly (+, -, ×, ÷, comparisons,
/// conversions, bit operations, selects), in the same order in every form. No fused multiply-add (ILGPU does not
/// map it and not every GPU backend has it), no table lookups, no calls into a platform's libm. Special inputs take
/// branches here and selects in the vector forms; both produce the same bits.
/// </para>
/// <para>
/// .NET's <see cref="MathF.Exp"/>/<see cref="MathF.Log(float)"/> (the C runtime) and
/// <see cref="System.Runtime.Intrinsics.Vector512.Exp(System.Runtime.Intrinsics.Vector512{float})"/> are each
/// accurate but differ from one another in the last bit for some inputs. An update rule that calls
/// <see cref="KernelMath.Exp(float)"/>/<see cref="KernelMath.Log(float)"/> instead of <see cref="MathF.Exp"/>/
/// <see cref="MathF.Log(float)"/> gets the same bits from its scalar form as from the generated span loops (vector
/// body and scalar tail) and GPU kernels.
/// </para>
/// </remarks>
public static partial class KernelMath
{
    // ---- Constants shared by the scalar and vector forms (each is the double nearest the value named). ----

    // Cody–Waite split of ln 2: Ln2Hi keeps the top 32 significant bits, so k·Ln2Hi is exact for |k| < 2^21;
    // Ln2Lo = ln 2 - Ln2Hi rounded.
    private const double Ln2Hi = 6.93147180369123816490e-01;  // 0x3FE62E42FEE00000
    private const double Ln2Lo = 1.90821492927058770002e-10;  // 0x3DEA39EF35793C76
    private const double Ln2 = 6.93147180559945309417e-01;    // 0x3FE62E42FEFA39EF, ln 2 (float paths)
    private const double InvLn2 = 1.44269504088896338700e+00; // 0x3FF71547652B82FE, 1/ln 2

    // 1.5·2^52: adding it to |v| < 2^51 leaves round-to-nearest-even(v) in the low mantissa bits, so
    // (v + Magic) - Magic is v rounded to an integer and bits(v + Magic) - MagicBits is that integer.
    private const double Magic = 6755399441055744.0;           // 0x4338000000000000
    private const long MagicBits = 0x4338000000000000L;

    private const long SqrtHalfBits = 0x3FE6A09E667F3BCDL;     // √½; the bits of √2 are these plus 2^52
    private const long MantissaMask = 0x000FFFFFFFFFFFFFL;
    private const double MinNormal = 2.2250738585072014e-308;  // 2^-1022
    private const double TwoTo54 = 18014398509481984.0;        // 2^54: scales a subnormal double to a normal one

    // Double Exp's clamp: e^-746 < 2^-1075 rounds to +0 and e^710 > 2^1024 to +∞, and the reduction
    // below stays in range (|k| ≤ 1077), so clamping changes no result and keeps ±∞ out of the arithmetic.
    private const double ExpMin = -746.0;
    private const double ExpMax = 710.0;

    // Float paths work in double; e^-104 < 2^-150 rounds to float +0, e^89 > 2^128 to float +∞.
    private const double ExpFloatMin = -104.0;
    private const double ExpFloatMax = 89.0;

    // r·coth(r/2) = 2 + Σ 2·B(2n)·r^(2n)/(2n)! (B = Bernoulli numbers): the coefficients of
    // R(r²) - 2 = P1·r² + P2·r⁴ + … in fdlibm's exp scheme. Taylor's terms through r^12: on |r| ≤ ln2/2 the first
    // omitted term, 7/3·r^14/14!, is below 2^-58 of the result's scale.
    private const double ExpP1 = 1.0 / 6.0;                    //  2·B2/2!
    private const double ExpP2 = -1.0 / 360.0;                 //  2·B4/4!
    private const double ExpP3 = 1.0 / 15120.0;                //  2·B6/6!
    private const double ExpP4 = -1.0 / 604800.0;              //  2·B8/8!
    private const double ExpP5 = 1.0 / 23950080.0;             //  2·B10/10!
    private const double ExpP6 = -691.0 / 653837184000.0;      //  2·B12/12!

    // log((1+s)/(1-s)) = 2s + s·R(s²), R(z) = Σ 2z^n/(2n+1), n ≥ 1; |s| ≤ 3 - 2√2 ≈ 0.1716, so through n = 11
    // the first omitted term is below 2^-65 of the result.
    private const double LogL1 = 2.0 / 3.0;
    private const double LogL2 = 2.0 / 5.0;
    private const double LogL3 = 2.0 / 7.0;
    private const double LogL4 = 2.0 / 9.0;
    private const double LogL5 = 2.0 / 11.0;
    private const double LogL6 = 2.0 / 13.0;
    private const double LogL7 = 2.0 / 15.0;
    private const double LogL8 = 2.0 / 17.0;
    private const double LogL9 = 2.0 / 19.0;
    private const double LogL10 = 2.0 / 21.0;
    private const double LogL11 = 2.0 / 23.0;

    // e^r Taylor coefficients 1/n! for the float path (|r| ≤ ln2/2: the omitted r^13/13! is below 2^-54).
    private const double InvFact2 = 1.0 / 2.0;
    private const double InvFact3 = 1.0 / 6.0;
    private const double InvFact4 = 1.0 / 24.0;
    private const double InvFact5 = 1.0 / 120.0;
    private const double InvFact6 = 1.0 / 720.0;
    private const double InvFact7 = 1.0 / 5040.0;
    private const double InvFact8 = 1.0 / 40320.0;
    private const double InvFact9 = 1.0 / 362880.0;
    private const double InvFact10 = 1.0 / 3628800.0;
    private const double InvFact11 = 1.0 / 39916800.0;
    private const double InvFact12 = 1.0 / 479001600.0;

    // 2·atanh series for the float path: 2s·(1 + z/3 + … + z^8/17); the omitted 2s·z^9/19 is below 2^-47 of the
    // result, far inside the rounding to float.
    private const double Inv3 = 1.0 / 3.0;
    private const double Inv5 = 1.0 / 5.0;
    private const double Inv7 = 1.0 / 7.0;
    private const double Inv9 = 1.0 / 9.0;
    private const double Inv11 = 1.0 / 11.0;
    private const double Inv13 = 1.0 / 13.0;
    private const double Inv15 = 1.0 / 15.0;
    private const double Inv17 = 1.0 / 17.0;

    /// <summary>
    /// <c>e^x</c> within 1 ulp of the correctly rounded result; the same bits as the vector overloads and GPU kernels.
    /// </summary>
    /// <param name="x">Any float. NaN gives NaN, +∞ gives +∞, -∞ gives +0.</param>
    /// <returns>e^x rounded once from a double-precision evaluation accurate to about 2^-50.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        if (float.IsNaN(x))
            return x;
        double d = x;
        d = d < ExpFloatMin ? ExpFloatMin : d;
        d = d > ExpFloatMax ? ExpFloatMax : d;
        return (float)ExpForFloat(d);
    }

    /// <summary>
    /// <c>ln x</c> within 1 ulp of the correctly rounded result; the same bits as the vector overloads and GPU kernels.
    /// </summary>
    /// <param name="x">Any float. ±0 gives -∞, negatives NaN, +∞ +∞, NaN NaN; subnormals are handled exactly.</param>
    /// <returns>ln x rounded once from a double-precision evaluation accurate to about 2^-50.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log(float x)
    {
        if (!(x > 0))
            return x == 0 ? float.NegativeInfinity : float.IsNaN(x) ? x : float.NaN;
        if (x == float.PositiveInfinity)
            return x;
        return (float)LogForFloat(x); // a float subnormal is a normal double: no rescaling needed
    }

    /// <summary>
    /// <c>e^x</c> within 1 ulp of the correctly rounded result; the same bits as the vector overloads and GPU kernels.
    /// </summary>
    /// <param name="x">Any double. NaN gives NaN, +∞ gives +∞, -∞ gives +0; results below 2^-1022 are subnormal.</param>
    /// <returns>
    /// e^x by Cody–Waite reduction x = k·ln 2 + r (|r| ≤ ln2/2) and fdlibm's form
    /// e^r = 1 - ((lo - r·c/(2 - c)) - hi), c = r - r²·P(r²), then scaled by 2^k in two exact-or-once-rounded steps.
    /// </returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Exp(double x)
    {
        if (double.IsNaN(x))
            return x;
        x = x < ExpMin ? ExpMin : x;
        x = x > ExpMax ? ExpMax : x;

        // k = round(x/ln 2) by the magic-number trick; kd is k as a double, k the integer.
        double t = x * InvLn2 + Magic;
        double kd = t - Magic;
        long k = BitConverter.DoubleToInt64Bits(t) - MagicBits;

        // hi is exact (k·Ln2Hi has ≤ 43 bits and cancels against x); lo carries the rest of k·ln 2.
        double hi = x - kd * Ln2Hi;
        double lo = kd * Ln2Lo;
        double r = hi - lo;
        double z = r * r;
        double c = r - z * (ExpP1 + z * (ExpP2 + z * (ExpP3 + z * (ExpP4 + z * (ExpP5 + z * ExpP6)))));
        double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);

        // 2^k as 2^k1·2^k2 with |k1|, |k2| ≤ 539: the first product is exact and normal, so a subnormal or
        // overflowing result is rounded once, by the second.
        long k1 = k >> 1;
        long k2 = k - k1;
        return y * PowerOfTwo(k1) * PowerOfTwo(k2);
    }

    /// <summary>
    /// <c>ln x</c> within 1 ulp of the correctly rounded result; the same bits as the vector overloads and GPU kernels.
    /// </summary>
    /// <param name="x">Any double. ±0 gives -∞, negatives NaN, +∞ +∞, NaN NaN; subnormals are handled exactly.</param>
    /// <returns>
    /// ln x by x = m·2^k with m in [√½, √2), f = m - 1, s = f/(2 + f) and fdlibm's
    /// ln(1 + f) = f - (hfsq - s·(hfsq + R(s²))), hfsq = f²/2, with k·ln 2 added in two parts.
    /// </returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Log(double x)
    {
        if (!(x > 0))
            return x == 0 ? double.NegativeInfinity : double.IsNaN(x) ? x : double.NaN;
        if (x == double.PositiveInfinity)
            return x;
        long adjust = 0;
        if (x < MinNormal)
        {
            x *= TwoTo54; // exact
            adjust = -54;
        }

        // Subtracting √½'s bits leaves k in the exponent field and m·2^-k's offset from √½ in the mantissa.
        long u = BitConverter.DoubleToInt64Bits(x) - SqrtHalfBits;
        long k = (u >> 52) + adjust;
        double m = BitConverter.Int64BitsToDouble((u & MantissaMask) + SqrtHalfBits);

        double f = m - 1.0; // exact (Sterbenz)
        double hfsq = 0.5 * f * f;
        double s = f / (2.0 + f);
        double z = s * s;
        double w = z * z;
        // R(z) split into even and odd powers of z so the two halves evaluate in parallel.
        double t1 = w * (LogL2 + w * (LogL4 + w * (LogL6 + w * (LogL8 + w * LogL10))));
        double t2 = z * (LogL1 + w * (LogL3 + w * (LogL5 + w * (LogL7 + w * (LogL9 + w * LogL11)))));
        double rz = t2 + t1;
        double kd = k; // |k| ≤ 1077: exact
        return kd * Ln2Hi - ((hfsq - (s * (hfsq + rz) + kd * Ln2Lo)) - f);
    }

    /// <summary>e^d for d in [-104, 89], accurate to about 2^-50 relative: enough that rounding to float is within 1 ulp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ExpForFloat(double d)
    {
        double t = d * InvLn2 + Magic;
        double kd = t - Magic;
        long k = BitConverter.DoubleToInt64Bits(t) - MagicBits;
        double r = (d - kd * Ln2Hi) - kd * Ln2Lo;
        double p = InvFact12;
        p = p * r + InvFact11;
        p = p * r + InvFact10;
        p = p * r + InvFact9;
        p = p * r + InvFact8;
        p = p * r + InvFact7;
        p = p * r + InvFact6;
        p = p * r + InvFact5;
        p = p * r + InvFact4;
        p = p * r + InvFact3;
        p = p * r + InvFact2;
        p = p * r + 1.0;
        p = p * r + 1.0;
        return p * PowerOfTwo(k); // |k| ≤ 151: 2^k and the product are normal doubles, the product exact
    }

    /// <summary>ln d for a positive finite normal double d, to about 2^-50 relative (near d = 1 too: f = m - 1 is exact and the series is in s).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double LogForFloat(double d)
    {
        long u = BitConverter.DoubleToInt64Bits(d) - SqrtHalfBits;
        long k = u >> 52;
        double m = BitConverter.Int64BitsToDouble((u & MantissaMask) + SqrtHalfBits);
        double f = m - 1.0;
        double s = f / (2.0 + f);
        double z = s * s;
        double p = z * (Inv3 + z * (Inv5 + z * (Inv7 + z * (Inv9 + z * (Inv11 + z * (Inv13 + z * (Inv15 + z * Inv17)))))));
        double kd = k;
        return kd * Ln2 + 2.0 * (s + s * p);
    }

    /// <summary>2^n for -1022 ≤ n ≤ 1023, from its bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double PowerOfTwo(long n) => BitConverter.Int64BitsToDouble((n + 1023) << 52);
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels;

// Vector256 forms of KernelMath.Exp/Log. Each mirrors the scalar method in KernelMath.cs operation for
// operation (same constants, same order), with the scalar form's branches replaced by selects, so every lane
// returns the scalar form's bits. KernelMath.Vector128.cs, .Vector256.cs and .Vector512.cs differ only in width.
public static partial class KernelMath
{
    /// <summary>
    /// <see cref="Exp(float)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded e^x.
    /// </summary>
    /// <param name="x">Any floats.</param>
    /// <returns>e^x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(x);
        Vector256<float> result = Vector256.Narrow(ExpForFloat(lower), ExpForFloat(upper));
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="Log(float)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded ln x.
    /// </summary>
    /// <param name="x">Any floats.</param>
    /// <returns>ln x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        (Vector256<double> lower, Vector256<double> upper) = Vector256.Widen(x);
        Vector256<float> result = Vector256.Narrow(LogForFloat(lower), LogForFloat(upper));
        result = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256.Create(float.PositiveInfinity)), x, result);
        result = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<float>.Zero), Vector256.Create(float.NegativeInfinity), result);
        result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256.Create(float.NaN), result);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="Exp(double)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded e^x.
    /// </summary>
    /// <param name="x">Any doubles.</param>
    /// <returns>e^x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Exp(Vector256<double> x)
    {
        Vector256<double> c0 = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(ExpMin)), Vector256.Create(ExpMin), x);
        c0 = Vector256.ConditionalSelect(Vector256.GreaterThan(c0, Vector256.Create(ExpMax)), Vector256.Create(ExpMax), c0);

        Vector256<double> t = c0 * InvLn2 + Vector256.Create(Magic);
        Vector256<double> kd = t - Vector256.Create(Magic);
        Vector256<long> k = t.AsInt64() - Vector256.Create(MagicBits);

        Vector256<double> hi = c0 - kd * Ln2Hi;
        Vector256<double> lo = kd * Ln2Lo;
        Vector256<double> r = hi - lo;
        Vector256<double> z = r * r;
        Vector256<double> c = r - z * (Vector256.Create(ExpP1) + z * (Vector256.Create(ExpP2) + z * (Vector256.Create(ExpP3)
            + z * (Vector256.Create(ExpP4) + z * (Vector256.Create(ExpP5) + z * ExpP6)))));
        Vector256<double> y = Vector256<double>.One - ((lo - (r * c) / (Vector256.Create(2.0) - c)) - hi);

        Vector256<long> k1 = Vector256.ShiftRightArithmetic(k, 1);
        Vector256<long> k2 = k - k1;
        Vector256<double> result = y * PowerOfTwo(k1) * PowerOfTwo(k2);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="Log(double)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded ln x.
    /// </summary>
    /// <param name="x">Any doubles.</param>
    /// <returns>ln x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Log(Vector256<double> x)
    {
        Vector256<double> subnormal = Vector256.LessThan(x, Vector256.Create(MinNormal));
        Vector256<double> xs = Vector256.ConditionalSelect(subnormal, x * TwoTo54, x);
        Vector256<long> adjust = Vector256.ConditionalSelect(subnormal.AsInt64(), Vector256.Create(-54L), Vector256<long>.Zero);

        Vector256<long> u = xs.AsInt64() - Vector256.Create(SqrtHalfBits);
        Vector256<long> k = Vector256.ShiftRightArithmetic(u, 52) + adjust;
        Vector256<double> m = ((u & Vector256.Create(MantissaMask)) + Vector256.Create(SqrtHalfBits)).AsDouble();

        Vector256<double> f = m - Vector256<double>.One;
        Vector256<double> hfsq = Vector256.Create(0.5) * f * f;
        Vector256<double> s = f / (Vector256.Create(2.0) + f);
        Vector256<double> z = s * s;
        Vector256<double> w = z * z;
        Vector256<double> t1 = w * (Vector256.Create(LogL2) + w * (Vector256.Create(LogL4) + w * (Vector256.Create(LogL6)
            + w * (Vector256.Create(LogL8) + w * LogL10))));
        Vector256<double> t2 = z * (Vector256.Create(LogL1) + w * (Vector256.Create(LogL3) + w * (Vector256.Create(LogL5)
            + w * (Vector256.Create(LogL7) + w * (Vector256.Create(LogL9) + w * LogL11)))));
        Vector256<double> rz = t2 + t1;
        Vector256<double> kd = ToDouble(k);
        Vector256<double> result = kd * Ln2Hi - ((hfsq - (s * (hfsq + rz) + kd * Ln2Lo)) - f);

        result = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256.Create(double.PositiveInfinity)), x, result);
        result = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<double>.Zero), Vector256.Create(double.NegativeInfinity), result);
        result = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<double>.Zero), Vector256.Create(double.NaN), result);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }

    /// <summary><see cref="ExpForFloat(double)"/> lane by lane (the caller clamps NaN lanes away afterwards).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> ExpForFloat(Vector256<double> d)
    {
        d = Vector256.ConditionalSelect(Vector256.LessThan(d, Vector256.Create(ExpFloatMin)), Vector256.Create(ExpFloatMin), d);
        d = Vector256.ConditionalSelect(Vector256.GreaterThan(d, Vector256.Create(ExpFloatMax)), Vector256.Create(ExpFloatMax), d);
        Vector256<double> t = d * InvLn2 + Vector256.Create(Magic);
        Vector256<double> kd = t - Vector256.Create(Magic);
        Vector256<long> k = t.AsInt64() - Vector256.Create(MagicBits);
        Vector256<double> r = (d - kd * Ln2Hi) - kd * Ln2Lo;
        Vector256<double> p = Vector256.Create(InvFact12);
        p = p * r + Vector256.Create(InvFact11);
        p = p * r + Vector256.Create(InvFact10);
        p = p * r + Vector256.Create(InvFact9);
        p = p * r + Vector256.Create(InvFact8);
        p = p * r + Vector256.Create(InvFact7);
        p = p * r + Vector256.Create(InvFact6);
        p = p * r + Vector256.Create(InvFact5);
        p = p * r + Vector256.Create(InvFact4);
        p = p * r + Vector256.Create(InvFact3);
        p = p * r + Vector256.Create(InvFact2);
        p = p * r + Vector256<double>.One;
        p = p * r + Vector256<double>.One;
        return p * PowerOfTwo(k);
    }

    /// <summary><see cref="LogForFloat(double)"/> lane by lane (lanes that were not positive finite are replaced afterwards).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> LogForFloat(Vector256<double> d)
    {
        Vector256<long> u = d.AsInt64() - Vector256.Create(SqrtHalfBits);
        Vector256<long> k = Vector256.ShiftRightArithmetic(u, 52);
        Vector256<double> m = ((u & Vector256.Create(MantissaMask)) + Vector256.Create(SqrtHalfBits)).AsDouble();
        Vector256<double> f = m - Vector256<double>.One;
        Vector256<double> s = f / (Vector256.Create(2.0) + f);
        Vector256<double> z = s * s;
        Vector256<double> p = z * (Vector256.Create(Inv3) + z * (Vector256.Create(Inv5) + z * (Vector256.Create(Inv7)
            + z * (Vector256.Create(Inv9) + z * (Vector256.Create(Inv11) + z * (Vector256.Create(Inv13)
            + z * (Vector256.Create(Inv15) + z * Inv17)))))));
        Vector256<double> kd = ToDouble(k);
        return kd * Ln2 + Vector256.Create(2.0) * (s + s * p);
    }

    /// <summary>2^n lane by lane for -1022 ≤ n ≤ 1023, from its bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> PowerOfTwo(Vector256<long> n) =>
        Vector256.ShiftLeft(n + Vector256.Create(1023L), 52).AsDouble();

    /// <summary>A small integer (|n| &lt; 2^51) as a double, exactly: the magic-number trick run backwards (no int64 conversion instruction needed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> ToDouble(Vector256<long> n) =>
        (n + Vector256.Create(MagicBits)).AsDouble() - Vector256.Create(Magic);
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels;

// Vector512 forms of KernelMath.Exp/Log. Each mirrors the scalar method in KernelMath.cs operation for
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
    public static Vector512<float> Exp(Vector512<float> x)
    {
        (Vector512<double> lower, Vector512<double> upper) = Vector512.Widen(x);
        Vector512<float> result = Vector512.Narrow(ExpForFloat(lower), ExpForFloat(upper));
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="Log(float)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded ln x.
    /// </summary>
    /// <param name="x">Any floats.</param>
    /// <returns>ln x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log(Vector512<float> x)
    {
        (Vector512<double> lower, Vector512<double> upper) = Vector512.Widen(x);
        Vector512<float> result = Vector512.Narrow(LogForFloat(lower), LogForFloat(upper));
        result = Vector512.ConditionalSelect(Vector512.Equals(x, Vector512.Create(float.PositiveInfinity)), x, result);
        result = Vector512.ConditionalSelect(Vector512.Equals(x, Vector512<float>.Zero), Vector512.Create(float.NegativeInfinity), result);
        result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), Vector512.Create(float.NaN), result);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="Exp(double)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded e^x.
    /// </summary>
    /// <param name="x">Any doubles.</param>
    /// <returns>e^x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Exp(Vector512<double> x)
    {
        Vector512<double> c0 = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(ExpMin)), Vector512.Create(ExpMin), x);
        c0 = Vector512.ConditionalSelect(Vector512.GreaterThan(c0, Vector512.Create(ExpMax)), Vector512.Create(ExpMax), c0);

        Vector512<double> t = c0 * InvLn2 + Vector512.Create(Magic);
        Vector512<double> kd = t - Vector512.Create(Magic);
        Vector512<long> k = t.AsInt64() - Vector512.Create(MagicBits);

        Vector512<double> hi = c0 - kd * Ln2Hi;
        Vector512<double> lo = kd * Ln2Lo;
        Vector512<double> r = hi - lo;
        Vector512<double> z = r * r;
        Vector512<double> c = r - z * (Vector512.Create(ExpP1) + z * (Vector512.Create(ExpP2) + z * (Vector512.Create(ExpP3)
            + z * (Vector512.Create(ExpP4) + z * (Vector512.Create(ExpP5) + z * ExpP6)))));
        Vector512<double> y = Vector512<double>.One - ((lo - (r * c) / (Vector512.Create(2.0) - c)) - hi);

        Vector512<long> k1 = Vector512.ShiftRightArithmetic(k, 1);
        Vector512<long> k2 = k - k1;
        Vector512<double> result = y * PowerOfTwo(k1) * PowerOfTwo(k2);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="Log(double)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded ln x.
    /// </summary>
    /// <param name="x">Any doubles.</param>
    /// <returns>ln x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Log(Vector512<double> x)
    {
        Vector512<double> subnormal = Vector512.LessThan(x, Vector512.Create(MinNormal));
        Vector512<double> xs = Vector512.ConditionalSelect(subnormal, x * TwoTo54, x);
        Vector512<long> adjust = Vector512.ConditionalSelect(subnormal.AsInt64(), Vector512.Create(-54L), Vector512<long>.Zero);

        Vector512<long> u = xs.AsInt64() - Vector512.Create(SqrtHalfBits);
        Vector512<long> k = Vector512.ShiftRightArithmetic(u, 52) + adjust;
        Vector512<double> m = ((u & Vector512.Create(MantissaMask)) + Vector512.Create(SqrtHalfBits)).AsDouble();

        Vector512<double> f = m - Vector512<double>.One;
        Vector512<double> hfsq = Vector512.Create(0.5) * f * f;
        Vector512<double> s = f / (Vector512.Create(2.0) + f);
        Vector512<double> z = s * s;
        Vector512<double> w = z * z;
        Vector512<double> t1 = w * (Vector512.Create(LogL2) + w * (Vector512.Create(LogL4) + w * (Vector512.Create(LogL6)
            + w * (Vector512.Create(LogL8) + w * LogL10))));
        Vector512<double> t2 = z * (Vector512.Create(LogL1) + w * (Vector512.Create(LogL3) + w * (Vector512.Create(LogL5)
            + w * (Vector512.Create(LogL7) + w * (Vector512.Create(LogL9) + w * LogL11)))));
        Vector512<double> rz = t2 + t1;
        Vector512<double> kd = ToDouble(k);
        Vector512<double> result = kd * Ln2Hi - ((hfsq - (s * (hfsq + rz) + kd * Ln2Lo)) - f);

        result = Vector512.ConditionalSelect(Vector512.Equals(x, Vector512.Create(double.PositiveInfinity)), x, result);
        result = Vector512.ConditionalSelect(Vector512.Equals(x, Vector512<double>.Zero), Vector512.Create(double.NegativeInfinity), result);
        result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<double>.Zero), Vector512.Create(double.NaN), result);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
    }

    /// <summary><see cref="ExpForFloat(double)"/> lane by lane (the caller clamps NaN lanes away afterwards).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> ExpForFloat(Vector512<double> d)
    {
        d = Vector512.ConditionalSelect(Vector512.LessThan(d, Vector512.Create(ExpFloatMin)), Vector512.Create(ExpFloatMin), d);
        d = Vector512.ConditionalSelect(Vector512.GreaterThan(d, Vector512.Create(ExpFloatMax)), Vector512.Create(ExpFloatMax), d);
        Vector512<double> t = d * InvLn2 + Vector512.Create(Magic);
        Vector512<double> kd = t - Vector512.Create(Magic);
        Vector512<long> k = t.AsInt64() - Vector512.Create(MagicBits);
        Vector512<double> r = (d - kd * Ln2Hi) - kd * Ln2Lo;
        Vector512<double> p = Vector512.Create(InvFact12);
        p = p * r + Vector512.Create(InvFact11);
        p = p * r + Vector512.Create(InvFact10);
        p = p * r + Vector512.Create(InvFact9);
        p = p * r + Vector512.Create(InvFact8);
        p = p * r + Vector512.Create(InvFact7);
        p = p * r + Vector512.Create(InvFact6);
        p = p * r + Vector512.Create(InvFact5);
        p = p * r + Vector512.Create(InvFact4);
        p = p * r + Vector512.Create(InvFact3);
        p = p * r + Vector512.Create(InvFact2);
        p = p * r + Vector512<double>.One;
        p = p * r + Vector512<double>.One;
        return p * PowerOfTwo(k);
    }

    /// <summary><see cref="LogForFloat(double)"/> lane by lane (lanes that were not positive finite are replaced afterwards).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> LogForFloat(Vector512<double> d)
    {
        Vector512<long> u = d.AsInt64() - Vector512.Create(SqrtHalfBits);
        Vector512<long> k = Vector512.ShiftRightArithmetic(u, 52);
        Vector512<double> m = ((u & Vector512.Create(MantissaMask)) + Vector512.Create(SqrtHalfBits)).AsDouble();
        Vector512<double> f = m - Vector512<double>.One;
        Vector512<double> s = f / (Vector512.Create(2.0) + f);
        Vector512<double> z = s * s;
        Vector512<double> p = z * (Vector512.Create(Inv3) + z * (Vector512.Create(Inv5) + z * (Vector512.Create(Inv7)
            + z * (Vector512.Create(Inv9) + z * (Vector512.Create(Inv11) + z * (Vector512.Create(Inv13)
            + z * (Vector512.Create(Inv15) + z * Inv17)))))));
        Vector512<double> kd = ToDouble(k);
        return kd * Ln2 + Vector512.Create(2.0) * (s + s * p);
    }

    /// <summary>2^n lane by lane for -1022 ≤ n ≤ 1023, from its bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> PowerOfTwo(Vector512<long> n) =>
        Vector512.ShiftLeft(n + Vector512.Create(1023L), 52).AsDouble();

    /// <summary>A small integer (|n| &lt; 2^51) as a double, exactly: the magic-number trick run backwards (no int64 conversion instruction needed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> ToDouble(Vector512<long> n) =>
        (n + Vector512.Create(MagicBits)).AsDouble() - Vector512.Create(Magic);
}

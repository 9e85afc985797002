using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels;

// Vector128 forms of KernelMath.Exp/Log. Each mirrors the scalar method in KernelMath.cs operation for
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
    public static Vector128<float> Exp(Vector128<float> x)
    {
        (Vector128<double> lower, Vector128<double> upper) = Vector128.Widen(x);
        Vector128<float> result = Vector128.Narrow(ExpForFloat(lower), ExpForFloat(upper));
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="Log(float)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded ln x.
    /// </summary>
    /// <param name="x">Any floats.</param>
    /// <returns>ln x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Log(Vector128<float> x)
    {
        (Vector128<double> lower, Vector128<double> upper) = Vector128.Widen(x);
        Vector128<float> result = Vector128.Narrow(LogForFloat(lower), LogForFloat(upper));
        result = Vector128.ConditionalSelect(Vector128.Equals(x, Vector128.Create(float.PositiveInfinity)), x, result);
        result = Vector128.ConditionalSelect(Vector128.Equals(x, Vector128<float>.Zero), Vector128.Create(float.NegativeInfinity), result);
        result = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), Vector128.Create(float.NaN), result);
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="Exp(double)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded e^x.
    /// </summary>
    /// <param name="x">Any doubles.</param>
    /// <returns>e^x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Exp(Vector128<double> x)
    {
        Vector128<double> c0 = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(ExpMin)), Vector128.Create(ExpMin), x);
        c0 = Vector128.ConditionalSelect(Vector128.GreaterThan(c0, Vector128.Create(ExpMax)), Vector128.Create(ExpMax), c0);

        Vector128<double> t = c0 * InvLn2 + Vector128.Create(Magic);
        Vector128<double> kd = t - Vector128.Create(Magic);
        Vector128<long> k = t.AsInt64() - Vector128.Create(MagicBits);

        Vector128<double> hi = c0 - kd * Ln2Hi;
        Vector128<double> lo = kd * Ln2Lo;
        Vector128<double> r = hi - lo;
        Vector128<double> z = r * r;
        Vector128<double> c = r - z * (Vector128.Create(ExpP1) + z * (Vector128.Create(ExpP2) + z * (Vector128.Create(ExpP3)
            + z * (Vector128.Create(ExpP4) + z * (Vector128.Create(ExpP5) + z * ExpP6)))));
        Vector128<double> y = Vector128<double>.One - ((lo - (r * c) / (Vector128.Create(2.0) - c)) - hi);

        Vector128<long> k1 = Vector128.ShiftRightArithmetic(k, 1);
        Vector128<long> k2 = k - k1;
        Vector128<double> result = y * PowerOfTwo(k1) * PowerOfTwo(k2);
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="Log(double)"/> lane by lane, with the same bits: within 1 ulp of the correctly rounded ln x.
    /// </summary>
    /// <param name="x">Any doubles.</param>
    /// <returns>ln x in each lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Log(Vector128<double> x)
    {
        Vector128<double> subnormal = Vector128.LessThan(x, Vector128.Create(MinNormal));
        Vector128<double> xs = Vector128.ConditionalSelect(subnormal, x * TwoTo54, x);
        Vector128<long> adjust = Vector128.ConditionalSelect(subnormal.AsInt64(), Vector128.Create(-54L), Vector128<long>.Zero);

        Vector128<long> u = xs.AsInt64() - Vector128.Create(SqrtHalfBits);
        Vector128<long> k = Vector128.ShiftRightArithmetic(u, 52) + adjust;
        Vector128<double> m = ((u & Vector128.Create(MantissaMask)) + Vector128.Create(SqrtHalfBits)).AsDouble();

        Vector128<double> f = m - Vector128<double>.One;
        Vector128<double> hfsq = Vector128.Create(0.5) * f * f;
        Vector128<double> s = f / (Vector128.Create(2.0) + f);
        Vector128<double> z = s * s;
        Vector128<double> w = z * z;
        Vector128<double> t1 = w * (Vector128.Create(LogL2) + w * (Vector128.Create(LogL4) + w * (Vector128.Create(LogL6)
            + w * (Vector128.Create(LogL8) + w * LogL10))));
        Vector128<double> t2 = z * (Vector128.Create(LogL1) + w * (Vector128.Create(LogL3) + w * (Vector128.Create(LogL5)
            + w * (Vector128.Create(LogL7) + w * (Vector128.Create(LogL9) + w * LogL11)))));
        Vector128<double> rz = t2 + t1;
        Vector128<double> kd = ToDouble(k);
        Vector128<double> result = kd * Ln2Hi - ((hfsq - (s * (hfsq + rz) + kd * Ln2Lo)) - f);

        result = Vector128.ConditionalSelect(Vector128.Equals(x, Vector128.Create(double.PositiveInfinity)), x, result);
        result = Vector128.ConditionalSelect(Vector128.Equals(x, Vector128<double>.Zero), Vector128.Create(double.NegativeInfinity), result);
        result = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<double>.Zero), Vector128.Create(double.NaN), result);
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), result, x);
    }

    /// <summary><see cref="ExpForFloat(double)"/> lane by lane (the caller clamps NaN lanes away afterwards).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> ExpForFloat(Vector128<double> d)
    {
        d = Vector128.ConditionalSelect(Vector128.LessThan(d, Vector128.Create(ExpFloatMin)), Vector128.Create(ExpFloatMin), d);
        d = Vector128.ConditionalSelect(Vector128.GreaterThan(d, Vector128.Create(ExpFloatMax)), Vector128.Create(ExpFloatMax), d);
        Vector128<double> t = d * InvLn2 + Vector128.Create(Magic);
        Vector128<double> kd = t - Vector128.Create(Magic);
        Vector128<long> k = t.AsInt64() - Vector128.Create(MagicBits);
        Vector128<double> r = (d - kd * Ln2Hi) - kd * Ln2Lo;
        Vector128<double> p = Vector128.Create(InvFact12);
        p = p * r + Vector128.Create(InvFact11);
        p = p * r + Vector128.Create(InvFact10);
        p = p * r + Vector128.Create(InvFact9);
        p = p * r + Vector128.Create(InvFact8);
        p = p * r + Vector128.Create(InvFact7);
        p = p * r + Vector128.Create(InvFact6);
        p = p * r + Vector128.Create(InvFact5);
        p = p * r + Vector128.Create(InvFact4);
        p = p * r + Vector128.Create(InvFact3);
        p = p * r + Vector128.Create(InvFact2);
        p = p * r + Vector128<double>.One;
        p = p * r + Vector128<double>.One;
        return p * PowerOfTwo(k);
    }

    /// <summary><see cref="LogForFloat(double)"/> lane by lane (lanes that were not positive finite are replaced afterwards).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> LogForFloat(Vector128<double> d)
    {
        Vector128<long> u = d.AsInt64() - Vector128.Create(SqrtHalfBits);
        Vector128<long> k = Vector128.ShiftRightArithmetic(u, 52);
        Vector128<double> m = ((u & Vector128.Create(MantissaMask)) + Vector128.Create(SqrtHalfBits)).AsDouble();
        Vector128<double> f = m - Vector128<double>.One;
        Vector128<double> s = f / (Vector128.Create(2.0) + f);
        Vector128<double> z = s * s;
        Vector128<double> p = z * (Vector128.Create(Inv3) + z * (Vector128.Create(Inv5) + z * (Vector128.Create(Inv7)
            + z * (Vector128.Create(Inv9) + z * (Vector128.Create(Inv11) + z * (Vector128.Create(Inv13)
            + z * (Vector128.Create(Inv15) + z * Inv17)))))));
        Vector128<double> kd = ToDouble(k);
        return kd * Ln2 + Vector128.Create(2.0) * (s + s * p);
    }

    /// <summary>2^n lane by lane for -1022 ≤ n ≤ 1023, from its bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> PowerOfTwo(Vector128<long> n) =>
        Vector128.ShiftLeft(n + Vector128.Create(1023L), 52).AsDouble();

    /// <summary>A small integer (|n| &lt; 2^51) as a double, exactly: the magic-number trick run backwards (no int64 conversion instruction needed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> ToDouble(Vector128<long> n) =>
        (n + Vector128.Create(MagicBits)).AsDouble() - Vector128.Create(Magic);
}

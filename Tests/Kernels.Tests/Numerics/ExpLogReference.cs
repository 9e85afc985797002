using System;

namespace Kernels.Tests.Numerics;

/// <summary>
/// Independent references for e^x and ln x of a double, in double-double arithmetic (about 100 significant bits),
/// used to judge <see cref="KernelMath"/>: different arithmetic (error-free transformations built on the hardware
/// FMA), different reductions and far more terms than the code under test.
/// </summary>
/// <remarks>
/// e^x = 2^k·e^r, r = x - k·ln 2 with ln 2 to 107 bits; e^r = (1 + expm1(r/2^10))^(2^10), expm1 by Taylor to
/// r^10/10! (below 2^-120 for |r/2^10| ≤ 2^-11) and squared ten times in the form e ← 2e + e², which keeps the
/// relative accuracy of the small quantity. ln x = e·ln 2 + 2·atanh((m-1)/(m+1)) for x = m·2^e, m in [√½, √2),
/// atanh by 24 terms of its series (|u| ≤ 0.172: the first omitted term is below 2^-120).
/// </remarks>
internal static class ExpLogReference
{
    // ln 2 = Ln2Hi + Ln2Lo, the two doubles nearest in turn (ln 2 = 0.693147180559945309417232121458176568...).
    private const double Ln2Hi = 0.6931471805599453;      // 0x3FE62E42FEFA39EF
    private const double Ln2Lo = 2.3190468138462996e-17;  // 0x3C7ABC9E3B39803F

    /// <summary>e^x as 2^Scale·(Hi + Lo), Hi + Lo in about [0.7, 1.42], or null for inputs whose result is trivially 0, ∞ or NaN.</summary>
    public static (double Hi, double Lo, int Scale)? Exp(double x)
    {
        if (!(x > -760 && x < 720))
            return null;
        double k = Math.Round(x / Ln2Hi);
        // r = x - k·ln 2 in double-double: k·Ln2Hi is exact as an FMA-split product.
        (double ph, double pl) = TwoProduct(k, Ln2Hi);
        (double rh, double rl) = Add(x, 0, -ph, -pl);
        (rh, rl) = Add(rh, rl, -k * Ln2Lo, -Math.FusedMultiplyAdd(k, Ln2Lo, -(k * Ln2Lo)));
        // s = r / 2^10, exact.
        double sh = rh / 1024, sl = rl / 1024;
        // expm1(s) = s·(1 + s/2·(1 + s/3·(1 + …)))
        (double qh, double ql) = (1, 0);
        for (int n = 10; n >= 2; n--)
        {
            (qh, ql) = Multiply(qh, ql, sh, sl);
            (qh, ql) = Divide(qh, ql, n);
            (qh, ql) = Add(1, 0, qh, ql);
        }
        (double eh, double el) = Multiply(qh, ql, sh, sl);
        for (int i = 0; i < 10; i++)
        {
            (double sqh, double sql) = Multiply(eh, el, eh, el);
            (eh, el) = Add(2 * eh, 2 * el, sqh, sql);
        }
        (double hi, double lo) = Add(1, 0, eh, el);
        return (hi, lo, (int)k);
    }

    // 1/(2n+1) in double-double, n = 0..24: the atanh series' coefficients.
    private static readonly double[] s_oddHi = new double[25], s_oddLo = new double[25];

    static ExpLogReference()
    {
        for (int n = 0; n < 25; n++)
            (s_oddHi[n], s_oddLo[n]) = Divide(1, 0, 2 * n + 1);
    }

    /// <summary>ln x as Hi + Lo for positive finite x.</summary>
    public static (double Hi, double Lo) Log(double x)
    {
        int e = Math.ILogB(x);
        double m = Math.ScaleB(x, -e); // exact, in [1, 2)
        if (m > Math.Sqrt(2))
        {
            m /= 2;
            e++;
        }
        (double dh, double dl) = TwoSum(m, 1);
        (double uh, double ul) = DivideDd(m - 1, 0, dh, dl); // m - 1 is exact
        (double zh, double zl) = Multiply(uh, ul, uh, ul);
        (double qh, double ql) = (s_oddHi[24], s_oddLo[24]);
        for (int n = 23; n >= 0; n--)
        {
            (qh, ql) = Multiply(qh, ql, zh, zl);
            (qh, ql) = Add(s_oddHi[n], s_oddLo[n], qh, ql);
        }
        (double ah, double al) = Multiply(qh, ql, 2 * uh, 2 * ul);
        (double kh, double kl) = TwoProduct(e, Ln2Hi);
        (kh, kl) = Add(kh, kl, e * Ln2Lo, Math.FusedMultiplyAdd(e, Ln2Lo, -(e * Ln2Lo)));
        return Add(kh, kl, ah, al);
    }

    /// <summary>
    /// The double nearest 2^scale·(hi + lo) (hi + lo normalized), including subnormal and overflowing results:
    /// scaling hi alone may round in the subnormal range, so the residual against hi + lo corrects it.
    /// </summary>
    public static double Round(double hi, double lo, int scale)
    {
        double c = Math.ScaleB(hi, scale);
        if (double.IsInfinity(c) || Math.Abs(c) >= 2.2250738585072014e-308)
            return c; // scaling by a power of two was exact (or overflowed), and hi is already hi + lo rounded
        double residual = (Math.ScaleB(c, -scale) - hi) - lo; // first difference exact: c is hi on a coarser grid
        double half = Math.ScaleB(1.0, -1075 - scale);
        if (residual > half)
            c = Math.BitDecrement(c);
        else if (residual < -half)
            c = Math.BitIncrement(c);
        return c;
    }

    /// <summary>(value - 2^scale·(hi + lo)) in ulps of the exact result (subnormal ulp 2^-1074 below 2^-1022).</summary>
    public static double ErrorInUlps(double value, double hi, double lo, int scale)
    {
        double scaled = Math.ScaleB(value, -scale); // exact for finite nonzero values of this range
        (double dh, double dl) = TwoSum(scaled, -hi);
        double difference = dh + (dl - lo);
        int exponent = Math.Max(Math.ILogB(hi) + scale, -1022);
        return Math.Abs(difference) / Math.ScaleB(1.0, exponent - 52 - scale);
    }

    // ---- Double-double arithmetic (Dekker, Knuth; TwoProduct by FMA) ----

    private static (double, double) TwoSum(double a, double b)
    {
        double s = a + b;
        double bb = s - a;
        return (s, (a - (s - bb)) + (b - bb));
    }

    private static (double, double) TwoProduct(double a, double b)
    {
        double p = a * b;
        return (p, Math.FusedMultiplyAdd(a, b, -p));
    }

    private static (double, double) Add(double ah, double al, double bh, double bl)
    {
        (double s, double e) = TwoSum(ah, bh);
        (double t, double f) = TwoSum(al, bl);
        e += t;
        (s, e) = TwoSum(s, e);
        e += f;
        return TwoSum(s, e);
    }

    private static (double, double) Multiply(double ah, double al, double bh, double bl)
    {
        (double p, double e) = TwoProduct(ah, bh);
        e += ah * bl + al * bh;
        return TwoSum(p, e);
    }

    private static (double, double) Divide(double ah, double al, double b)
    {
        double q1 = ah / b;
        (double ph, double pl) = TwoProduct(q1, b);
        (double rh, double rl) = Add(ah, al, -ph, -pl);
        double q2 = (rh + rl) / b;
        return TwoSum(q1, q2);
    }

    private static (double, double) DivideDd(double ah, double al, double bh, double bl)
    {
        double q1 = ah / bh;
        (double ph, double pl) = Multiply(q1, 0, bh, bl);
        (double rh, double rl) = Add(ah, al, -ph, -pl);
        double q2 = rh / bh;
        (ph, pl) = Multiply(q2, 0, bh, bl);
        (rh, rl) = Add(rh, rl, -ph, -pl);
        double q3 = rh / bh;
        (double sh, double sl) = TwoSum(q1, q2);
        return Add(sh, sl, q3, 0);
    }
}

using System;
using System.Runtime.CompilerServices;
using ILGPU.Runtime.Cuda;

namespace Kernels.Gpu;

/// <summary>
/// The per-element math functions generated GPU kernels call in place of <see cref="MathF"/> / <see cref="Math"/>.
/// Each public method is the host form: it is exactly the .NET function (so ILGPU's CPU accelerator,
/// which runs kernels as ordinary .NET code, gives bit-identical results to the span overloads).
/// <see cref="GpuKernels"/> remaps each to its twin in <see cref="Device"/> when ILGPU compiles a kernel for
/// a GPU backend, so the GPU gets the same IEEE semantics rather than ILGPU's defaults (PTX <c>max.f32</c>
/// drops NaN; <c>MathF.FusedMultiplyAdd</c> has no ILGPU mapping; <c>Math.Clamp</c> throws).
/// </summary>
/// <remarks>
/// Only these methods are remapped (not <see cref="MathF"/> itself), so ILGPU kernels elsewhere in the
/// process keep ILGPU's own mappings.
/// </remarks>
public static class GpuMath
{
    /// <summary><see cref="MathF.FusedMultiplyAdd"/>.</summary>
    public static float FusedMultiplyAdd(float x, float y, float z) => MathF.FusedMultiplyAdd(x, y, z);

    /// <summary><see cref="Math.FusedMultiplyAdd"/>.</summary>
    public static double FusedMultiplyAdd(double x, double y, double z) => Math.FusedMultiplyAdd(x, y, z);

    /// <summary><see cref="MathF.Max"/> (NaN if either is NaN; +0 above -0).</summary>
    public static float Max(float x, float y) => MathF.Max(x, y);

    /// <summary><see cref="Math.Max(double, double)"/>.</summary>
    public static double Max(double x, double y) => Math.Max(x, y);

    /// <summary><see cref="MathF.Min"/> (NaN if either is NaN; -0 below +0).</summary>
    public static float Min(float x, float y) => MathF.Min(x, y);

    /// <summary><see cref="Math.Min(double, double)"/>.</summary>
    public static double Min(double x, double y) => Math.Min(x, y);

    /// <summary><see cref="MathF.Abs"/>.</summary>
    public static float Abs(float x) => MathF.Abs(x);

    /// <summary><see cref="Math.Abs(double)"/>.</summary>
    public static double Abs(double x) => Math.Abs(x);

    /// <summary><see cref="MathF.CopySign"/>.</summary>
    public static float CopySign(float x, float y) => MathF.CopySign(x, y);

    /// <summary><see cref="Math.CopySign"/>.</summary>
    public static double CopySign(double x, double y) => Math.CopySign(x, y);

    /// <summary><see cref="Math.Clamp(float, float, float)"/> (on a GPU, <paramref name="min"/> &gt; <paramref name="max"/> cannot throw: the comparisons decide).</summary>
    public static float Clamp(float value, float min, float max) => Math.Clamp(value, min, max);

    /// <summary><see cref="Math.Clamp(double, double, double)"/>.</summary>
    public static double Clamp(double value, double min, double max) => Math.Clamp(value, min, max);

    /// <summary><see cref="MathF.Sign"/> (on a GPU, NaN gives 0 instead of throwing).</summary>
    public static int Sign(float x) => MathF.Sign(x);

    /// <summary><see cref="Math.Sign(double)"/>.</summary>
    public static int Sign(double x) => Math.Sign(x);

    /// <summary><see cref="MathF.Exp"/> (on a GPU: evaluated in double precision and rounded, within 1 ulp of the host's).</summary>
    public static float Exp(float x) => MathF.Exp(x);

    /// <summary><see cref="Math.Exp"/> (on a GPU: within a few ulp of the host's).</summary>
    public static double Exp(double x) => Math.Exp(x);

    /// <summary><see cref="MathF.Log(float)"/> (on a GPU: evaluated in double precision and rounded, within 1 ulp of the host's).</summary>
    public static float Log(float x) => MathF.Log(x);

    /// <summary><see cref="Math.Log(double)"/> (on a GPU: within a few ulp of the host's).</summary>
    public static double Log(double x) => Math.Log(x);

    /// <summary>
    /// The device forms ILGPU compiles instead of the methods above: plain arithmetic, bit operations and
    /// PTX inline assembly only, with the .NET semantics. Callable on the host too (the tests do).
    /// </summary>
    public static class Device
    {
        /// <summary>Fused multiply-add, one rounding: PTX <c>fma.rn.f32</c> on CUDA, an exact software form elsewhere.</summary>
        public static float FusedMultiplyAdd(float x, float y, float z)
        {
            if (CudaAsm.IsSupported)
            {
                CudaAsm.Emit("fma.rn.f32 %0, %1, %2, %3;", out float result, x, y, z);
                return result;
            }
            return SoftFusedMultiplyAdd(x, y, z);
        }

        /// <summary>Fused multiply-add: PTX <c>fma.rn.f64</c> on CUDA. Other GPU backends have no exact form here: there it is <c>x * y + z</c>, rounded twice.</summary>
        public static double FusedMultiplyAdd(double x, double y, double z)
        {
            if (CudaAsm.IsSupported)
            {
                CudaAsm.Emit("fma.rn.f64 %0, %1, %2, %3;", out double result, x, y, z);
                return result;
            }
            return x * y + z;
        }

        /// <summary>
        /// <c>x * y + z</c> with one rounding, without an FMA instruction: the product of two floats is exact
        /// in double; the sum is rounded to odd in double (53 bits ≥ 24 + 2), so the final rounding to float is
        /// the correctly rounded result (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums").
        /// </summary>
        public static float SoftFusedMultiplyAdd(float x, float y, float z)
        {
            double product = (double)x * y;
            double sum = product + z;
            if (!double.IsFinite(sum))
                return (float)sum; // infinite or NaN: nothing to correct
            // TwoSum: the exact error of product + z.
            double zPart = sum - product;
            double error = (product - (sum - zPart)) + (z - zPart);
            if (error != 0)
            {
                long bits = BitConverter.DoubleToInt64Bits(sum);
                if ((bits & 1) == 0)
                    bits += (error > 0) == (sum > 0) ? 1 : -1; // round to odd: the odd neighbour towards the exact value
                sum = BitConverter.Int64BitsToDouble(bits);
            }
            return (float)sum;
        }

        /// <summary><see cref="MathF.Max"/>'s semantics.</summary>
        public static float Max(float x, float y)
        {
            if (x != y)
                return float.IsNaN(x) ? x : (y < x ? x : y);
            return BitConverter.SingleToInt32Bits(y) < 0 ? x : y;
        }

        /// <summary><see cref="Math.Max(double, double)"/>'s semantics.</summary>
        public static double Max(double x, double y)
        {
            if (x != y)
                return double.IsNaN(x) ? x : (y < x ? x : y);
            return BitConverter.DoubleToInt64Bits(y) < 0 ? x : y;
        }

        /// <summary><see cref="MathF.Min"/>'s semantics.</summary>
        public static float Min(float x, float y)
        {
            if (x != y)
                return float.IsNaN(x) ? x : (x < y ? x : y);
            return BitConverter.SingleToInt32Bits(x) < 0 ? x : y;
        }

        /// <summary><see cref="Math.Min(double, double)"/>'s semantics.</summary>
        public static double Min(double x, double y)
        {
            if (x != y)
                return double.IsNaN(x) ? x : (x < y ? x : y);
            return BitConverter.DoubleToInt64Bits(x) < 0 ? x : y;
        }

        /// <summary>Clears the sign bit (NaN payloads kept, as on the host).</summary>
        public static float Abs(float x) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) & int.MaxValue);

        /// <summary>Clears the sign bit.</summary>
        public static double Abs(double x) => BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(x) & long.MaxValue);

        /// <summary>The magnitude of <paramref name="x"/> with the sign bit of <paramref name="y"/>.</summary>
        public static float CopySign(float x, float y) => BitConverter.Int32BitsToSingle(
            (BitConverter.SingleToInt32Bits(x) & int.MaxValue) | (BitConverter.SingleToInt32Bits(y) & int.MinValue));

        /// <summary>The magnitude of <paramref name="x"/> with the sign bit of <paramref name="y"/>.</summary>
        public static double CopySign(double x, double y) => BitConverter.Int64BitsToDouble(
            (BitConverter.DoubleToInt64Bits(x) & long.MaxValue) | (BitConverter.DoubleToInt64Bits(y) & long.MinValue));

        /// <summary><c>value &lt; min ? min : value &gt; max ? max : value</c> (NaN stays NaN).</summary>
        public static float Clamp(float value, float min, float max) => value < min ? min : value > max ? max : value;

        /// <summary><c>value &lt; min ? min : value &gt; max ? max : value</c> (NaN stays NaN).</summary>
        public static double Clamp(double value, double min, double max) => value < min ? min : value > max ? max : value;

        /// <summary>1, -1 or 0 (0 for NaN).</summary>
        public static int Sign(float x) => x > 0 ? 1 : x < 0 ? -1 : 0;

        /// <summary>1, -1 or 0 (0 for NaN).</summary>
        public static int Sign(double x) => x > 0 ? 1 : x < 0 ? -1 : 0;

        /// <summary>e^x in double precision, rounded to float.</summary>
        public static float Exp(float x) => (float)Exp((double)x);

        /// <summary>ln x in double precision, rounded to float.</summary>
        public static float Log(float x) => (float)Log((double)x);

        private const double Ln2Hi = 6.93147180369123816490e-01; // ln 2, high 32 bits: k * Ln2Hi is exact for |k| < 2^11
        private const double Ln2Lo = 1.90821492927058770002e-10; // ln 2 - Ln2Hi
        private const double Log2E = 1.4426950408889634;

        /// <summary>e^x: Cody–Waite reduction by k·ln 2, a degree-13 Taylor polynomial on |r| ≤ ln2/2, then scaling by 2^k.</summary>
        public static double Exp(double x)
        {
            if (double.IsNaN(x))
                return x;
            if (x > 709.782712893384)
                return double.PositiveInfinity;
            if (x < -745.1332191019412)
                return 0.0;
            double k = Math.Floor(x * Log2E + 0.5);
            double r = (x - k * Ln2Hi) - k * Ln2Lo;
            double p = 1.0 / 6227020800.0;
            p = p * r + 1.0 / 479001600.0;
            p = p * r + 1.0 / 39916800.0;
            p = p * r + 1.0 / 3628800.0;
            p = p * r + 1.0 / 362880.0;
            p = p * r + 1.0 / 40320.0;
            p = p * r + 1.0 / 5040.0;
            p = p * r + 1.0 / 720.0;
            p = p * r + 1.0 / 120.0;
            p = p * r + 1.0 / 24.0;
            p = p * r + 1.0 / 6.0;
            p = p * r + 0.5;
            p = p * r + 1.0;
            p = p * r + 1.0;
            // 2^k in two factors, so neither overflows nor goes subnormal on its own.
            int n = (int)k;
            int half = n / 2;
            return p * PowerOfTwo(half) * PowerOfTwo(n - half);
        }

        /// <summary>ln x: x = m·2^e with m in [√½, √2), ln m = 2·atanh(s) with s = (m-1)/(m+1), |s| ≤ 0.172.</summary>
        public static double Log(double x)
        {
            if (double.IsNaN(x) || x < 0)
                return double.NaN;
            if (x == 0)
                return double.NegativeInfinity;
            if (x == double.PositiveInfinity)
                return x;
            int e = 0;
            if (x < 2.2250738585072014e-308)
            {
                x *= 18014398509481984.0; // 2^54: subnormal to normal
                e = -54;
            }
            long bits = BitConverter.DoubleToInt64Bits(x);
            e += (int)((bits >> 52) & 0x7FF) - 1023;
            double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
            if (m > 1.4142135623730951)
            {
                m *= 0.5;
                e++;
            }
            double f = m - 1.0;
            double s = f / (2.0 + f);
            double z = s * s;
            double p = 1.0 / 23.0;
            p = p * z + 1.0 / 21.0;
            p = p * z + 1.0 / 19.0;
            p = p * z + 1.0 / 17.0;
            p = p * z + 1.0 / 15.0;
            p = p * z + 1.0 / 13.0;
            p = p * z + 1.0 / 11.0;
            p = p * z + 1.0 / 9.0;
            p = p * z + 1.0 / 7.0;
            p = p * z + 1.0 / 5.0;
            p = p * z + 1.0 / 3.0;
            p = p * z + 1.0;
            return e * Ln2Hi + (2.0 * s * p + e * Ln2Lo);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static double PowerOfTwo(int n) => BitConverter.Int64BitsToDouble((long)(n + 1023) << 52);
    }
}

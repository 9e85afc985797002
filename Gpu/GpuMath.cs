using System;
using System.Runtime.CompilerServices;
using ILGPU.Runtime.Cuda;

namespace Kernels.Gpu;

/// <summary>
/// The per-element math functions generated GPU kernels call in place of <see cref="MathF"/> / <see cref="Math"/>.
/// Each public method is the host form: it is exactly the .NET function (so ILGPU's CPU accelerator,
/// which runs kernels as ordinary .NET code, gives bit-identical results to the span overloads), except
/// <c>Exp</c> and <c>Log</c>, which are <see cref="KernelMath"/>'s: one implementation with the same bits on
/// the host, in vector loops and on every GPU.
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

    /// <summary><see cref="float.Clamp"/> (not <see cref="Math.Clamp(float, float, float)"/>: it is <c>Min(Max(value, min), max)</c>, NaN-propagating).</summary>
    public static float ClampNumber(float value, float min, float max) => float.Clamp(value, min, max);

    /// <summary><see cref="double.Clamp"/>.</summary>
    public static double ClampNumber(double value, double min, double max) => double.Clamp(value, min, max);

    /// <summary><see cref="MathF.Sign"/> (on a GPU, NaN gives 0 instead of throwing).</summary>
    public static int Sign(float x) => MathF.Sign(x);

    /// <summary><see cref="Math.Sign(double)"/>.</summary>
    public static int Sign(double x) => Math.Sign(x);

    /// <summary><see cref="KernelMath.Exp(float)"/>: the same bits on the host, in the span overloads' vector loops and on every GPU (within 1 ulp of the correctly rounded e^x).</summary>
    public static float Exp(float x) => KernelMath.Exp(x);

    /// <summary><see cref="KernelMath.Exp(double)"/>: the same bits everywhere (within 1 ulp of the correctly rounded e^x).</summary>
    public static double Exp(double x) => KernelMath.Exp(x);

    /// <summary><see cref="KernelMath.Log(float)"/>: the same bits everywhere (within 1 ulp of the correctly rounded ln x).</summary>
    public static float Log(float x) => KernelMath.Log(x);

    /// <summary><see cref="KernelMath.Log(double)"/>: the same bits everywhere (within 1 ulp of the correctly rounded ln x).</summary>
    public static double Log(double x) => KernelMath.Log(x);

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

        /// <summary><see cref="Math.Clamp(float, float, float)"/>: <c>value &lt; min ? min : value &gt; max ? max : value</c> (a NaN value stays NaN, a NaN bound is ignored).</summary>
        public static float Clamp(float value, float min, float max) => value < min ? min : value > max ? max : value;

        /// <summary><see cref="float.Clamp"/>: <c>Min(Max(value, min), max)</c> (NaN anywhere gives NaN; <c>Clamp(-0, +0, 1)</c> is +0).</summary>
        public static float ClampNumber(float value, float min, float max) => Min(Max(value, min), max);

        /// <summary><see cref="Math.Clamp(double, double, double)"/>: <c>value &lt; min ? min : value &gt; max ? max : value</c>.</summary>
        public static double Clamp(double value, double min, double max) => value < min ? min : value > max ? max : value;

        /// <summary><see cref="double.Clamp"/>: <c>Min(Max(value, min), max)</c>.</summary>
        public static double ClampNumber(double value, double min, double max) => Min(Max(value, min), max);

        /// <summary>1, -1 or 0 (0 for NaN).</summary>
        public static int Sign(float x) => x > 0 ? 1 : x < 0 ? -1 : 0;

        /// <summary>1, -1 or 0 (0 for NaN).</summary>
        public static int Sign(double x) => x > 0 ? 1 : x < 0 ? -1 : 0;

        // Exp and Log need no device twin of their own: KernelMath's scalar code is plain arithmetic and bit
        // operations, which ILGPU compiles as it is. These forms exist so every GpuMath method has one (the
        // remapping in GpuKernels pairs them by name) and map to the same code, hence the same bits.

        /// <summary><see cref="KernelMath.Exp(float)"/>.</summary>
        public static float Exp(float x) => KernelMath.Exp(x);

        /// <summary><see cref="KernelMath.Log(float)"/>.</summary>
        public static float Log(float x) => KernelMath.Log(x);

        /// <summary><see cref="KernelMath.Exp(double)"/>.</summary>
        public static double Exp(double x) => KernelMath.Exp(x);

        /// <summary><see cref="KernelMath.Log(double)"/>.</summary>
        public static double Log(double x) => KernelMath.Log(x);
    }
}

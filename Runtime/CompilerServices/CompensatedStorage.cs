using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels.CompilerServices;

/// <summary>
/// A 16-bit parameter with a 16-bit compensation (<c>ParameterPrecision.Compensation</c>): the value the rule sees is
/// <c>p + c</c>, and a new value <c>v</c> is kept as <c>p = round(v)</c>, <c>c = round(v - p)</c>, both to nearest.
/// </summary>
/// <remarks>
/// <c>v - p</c> is exact in float wherever <c>p</c> is finite (<c>p</c> is <c>v</c> rounded to fewer bits, within a factor
/// of two of it: Sterbenz). Where <c>p</c> is ±∞ or NaN (or <c>v</c> overflowed the 16-bit range), <c>c</c> is 0 so that
/// <c>p + c</c> stays <c>p</c> instead of becoming NaN. The vector forms give the scalar's bits.
/// </remarks>
internal static class CompensatedStorage
{
    /// <summary><c>destination[j] = (float)p[j] + (float)c[j]</c> for <c>j</c> &lt; <paramref name="count"/>.</summary>
    public static unsafe void Widen<T>(ref T p, ref T c, float* destination, int count) where T : unmanaged
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j <= count - Vector512<float>.Count; j += Vector512<float>.Count)
                Vector512.Store(Storage.Load512(ref p, (nuint)j) + Storage.Load512(ref c, (nuint)j), destination + j);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; j <= count - Vector256<float>.Count; j += Vector256<float>.Count)
                Vector256.Store(Storage.Load256(ref p, (nuint)j) + Storage.Load256(ref c, (nuint)j), destination + j);
        }
        for (; j < count; j++)
            destination[j] = Storage.Load(ref p, j) + Storage.Load(ref c, j);
    }

    /// <summary><c>p[j] = round(v[j])</c>, <c>c[j] = round(v[j] - p[j])</c> (0 where <c>p[j]</c> is not finite), for <c>j</c> &lt; <paramref name="count"/>.</summary>
    public static unsafe void Split<T>(float* values, ref T p, ref T c, int count) where T : unmanaged
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j <= count - Vector512<float>.Count; j += Vector512<float>.Count)
            {
                Vector512<float> v = Vector512.Load(values + j);
                Storage.Store(v, ref p, (nuint)j);
                Vector512<float> high = Storage.Load512(ref p, (nuint)j);
                Vector512<float> low = Vector512.ConditionalSelect(Vector512.Equals(high - high, Vector512<float>.Zero), v - high, Vector512<float>.Zero);
                Storage.Store(low, ref c, (nuint)j);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; j <= count - Vector256<float>.Count; j += Vector256<float>.Count)
            {
                Vector256<float> v = Vector256.Load(values + j);
                Storage.Store(v, ref p, (nuint)j);
                Vector256<float> high = Storage.Load256(ref p, (nuint)j);
                Vector256<float> low = Vector256.ConditionalSelect(Vector256.Equals(high - high, Vector256<float>.Zero), v - high, Vector256<float>.Zero);
                Storage.Store(low, ref c, (nuint)j);
            }
        }
        for (; j < count; j++)
        {
            float v = values[j];
            Storage.Store(v, ref p, j);
            float high = Storage.Load(ref p, j);
            Storage.Store(high - high == 0f ? v - high : 0f, ref c, j);
        }
    }
}

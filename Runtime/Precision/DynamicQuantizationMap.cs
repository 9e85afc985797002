using System;

namespace Kernels.Precision;

/// <summary>
/// The dynamic 8-bit quantization map of Dettmers et al. ("8-bit Optimizers via Block-wise Quantization", 2021):
/// bitsandbytes' <c>create_dynamic_map(signed, max_exponent_bits=7, total_bits=8)</c>, 256 float32 values in
/// ascending order, dense near zero (a decimal exponent from 10^-6 to 10^0 and a linear fraction whose precision grows
/// with the exponent).
/// </summary>
/// <remarks>
/// <para>
/// Construction, as bitsandbytes does it in PyTorch float32: for <c>i</c> = 0…6, take
/// <c>torch.linspace(0.1, 1, n)</c> with <c>n = 2^i + 1</c> (signed) or <c>2^(i+1) + 1</c> (unsigned), the midpoints
/// of consecutive values, <c>(b[j] + b[j+1]) / 2</c>, and scale them by <c>(float)10^(i-6)</c>; the signed map adds
/// the negations. Then 0 and 1 are appended and everything is sorted. Signed: 127 negative values (the smallest
/// −0.99296875 rounded to float), 0, 127 positive values, and 1 — symmetric except for 1, which has no negative
/// partner. Unsigned: 0, 254 positive values, 1.
/// </para>
/// <para>
/// PyTorch's linspace computes <c>start + step·j</c> for the first half of the points and <c>end − step·(n−1−j)</c>
/// for the rest (<c>step = (end − start) / (n − 1)</c> in float). Here each of those is one fused multiply-add, as the
/// C++ compiler contracts it in PyTorch's AVX2/AVX-512 CPU kernels: with that, the signed map equals, bit for bit, a
/// published dump of the map bitsandbytes builds (checked in the tests). Rounding the product separately instead (a
/// build without FMA) would change the last bit of 42 of the 256 signed values.
/// </para>
/// </remarks>
public static class DynamicQuantizationMap
{
    /// <summary>The number of codes.</summary>
    public const int Size = 256;

    // 10^(i-6) as Python computes it (a correctly rounded double), then rounded to float where it multiplies a
    // float32 tensor.
    private static readonly double[] s_decimalScales = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0];

    /// <summary>A new array with the 256 values of the map, ascending.</summary>
    /// <param name="signed">The signed map (first moments, values in [−0.993, 1]) or the unsigned one (second moments, [0, 1]).</param>
    /// <returns>256 distinct floats, sorted ascending, the last one 1.</returns>
    public static float[] Create(bool signed)
    {
        const int MaxExponentBits = 7;
        float[] map = new float[Size];
        int count = 0;
        for (int i = 0; i < MaxExponentBits; i++)
        {
            int points = signed ? (1 << i) + 1 : (1 << (i + 1)) + 1;
            float scale = (float)s_decimalScales[i];
            float previous = Linspace(points, 0);
            for (int j = 1; j < points; j++)
            {
                float next = Linspace(points, j);
                float mean = (previous + next) / 2f;
                map[count++] = scale * mean;
                if (signed)
                    map[count++] = -scale * mean;
                previous = next;
            }
        }
        map[count++] = 0f;
        map[count++] = 1f;
        if (count != Size)
            throw new InvalidOperationException($"The dynamic map has {count} values instead of {Size}.");
        Array.Sort(map);
        return map;
    }

    /// <summary>Point <paramref name="j"/> of <c>torch.linspace(0.1, 1, points, dtype=float32)</c> (FMA-contracted, see the remarks).</summary>
    private static float Linspace(int points, int j)
    {
        const float Start = 0.1f, End = 1f;
        float step = (End - Start) / (points - 1);
        return j < points / 2
            ? MathF.FusedMultiplyAdd(step, j, Start)
            : MathF.FusedMultiplyAdd(-step, points - 1 - j, End);
    }
}

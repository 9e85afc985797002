using System;

namespace Kernels.Tests.Numerics;

/// <summary>Random test data that mixes ordinary values of many magnitudes with NaN, ±Inf, subnormals and ±0.</summary>
internal static class SpecialValues
{
    private static readonly float[] s_specialFloats =
    {
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f,
        float.Epsilon, -float.Epsilon, 1e-40f, -3e-39f, float.MaxValue, float.MinValue, 1f, -1f, 0.5f,
    };

    private static readonly double[] s_specialDoubles =
    {
        double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0d, -0d,
        double.Epsilon, -double.Epsilon, 1e-310, -3e-315, double.MaxValue, double.MinValue, 1d, -1d, 0.5d,
    };

    /// <summary>Fills with ~15% special values (when <paramref name="special"/>) and otherwise values of magnitude 1e-6 .. 1e2.</summary>
    public static float[] Floats(Random random, int length, bool special = true, bool positive = false)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            if (special && random.NextDouble() < 0.15)
                values[i] = s_specialFloats[random.Next(s_specialFloats.Length)];
            else
            {
                double magnitude = Math.Pow(10, random.NextDouble() * 8 - 6);
                values[i] = (float)(positive || random.Next(2) == 0 ? magnitude : -magnitude);
            }
        }
        return values;
    }

    public static double[] Doubles(Random random, int length, bool special = true)
    {
        var values = new double[length];
        for (int i = 0; i < length; i++)
        {
            if (special && random.NextDouble() < 0.15)
                values[i] = s_specialDoubles[random.Next(s_specialDoubles.Length)];
            else
            {
                double magnitude = Math.Pow(10, random.NextDouble() * 8 - 6);
                values[i] = random.Next(2) == 0 ? magnitude : -magnitude;
            }
        }
        return values;
    }
}

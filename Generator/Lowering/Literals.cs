using System;
using System.Globalization;

namespace Kernels.Generator.Lowering;

/// <summary>Culture-invariant, round-trippable C# literals.</summary>
internal static class Literals
{
    public static string Format(object value, string keyword)
    {
        if (keyword == "double")
        {
            double d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (double.IsNaN(d)) return "double.NaN";
            if (double.IsPositiveInfinity(d)) return "double.PositiveInfinity";
            if (double.IsNegativeInfinity(d)) return "double.NegativeInfinity";
            if (d == 0 && BitConverter.DoubleToInt64Bits(d) < 0) return "-0d";
            return d.ToString("R", CultureInfo.InvariantCulture) + "d";
        }

        float f = Convert.ToSingle(value, CultureInfo.InvariantCulture);
        if (float.IsNaN(f)) return "float.NaN";
        if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
        if (f == 0 && BitConverter.ToInt32(BitConverter.GetBytes(f), 0) < 0) return "-0f";
        return f.ToString("R", CultureInfo.InvariantCulture) + "f";
    }
}

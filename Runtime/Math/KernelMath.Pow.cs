using System;

namespace Kernels;

public static partial class KernelMath
{
    /// <summary>
    /// <c>x</c> to the power <paramref name="n"/> as the generated loops compute a per-element <c>MathF.Pow(x, n)</c>
    /// with a constant <c>0 ≤ n ≤ 4</c>: by multiplication (<c>x·x</c>, <c>(x·x)·x</c>, <c>(x·x)·(x·x)</c>; <c>Pow(x, 0)</c>
    /// is 1, NaN included). The C runtime's <see cref="MathF.Pow"/> is not correctly rounded even for <c>n = 2</c>, so
    /// a rule that calls this instead gets the same bits from its scalar form as from its generated loops. Other
    /// exponents are <see cref="MathF.Pow"/>.
    /// </summary>
    public static float Pow(float x, int n) => n switch
    {
        0 => 1f,
        1 => x,
        2 => x * x,
        3 => x * x * x,
        4 => (x * x) * (x * x),
        _ => MathF.Pow(x, n),
    };

    /// <inheritdoc cref="Pow(float, int)"/>
    public static double Pow(double x, int n) => n switch
    {
        0 => 1d,
        1 => x,
        2 => x * x,
        3 => x * x * x,
        4 => (x * x) * (x * x),
        _ => Math.Pow(x, n),
    };
}

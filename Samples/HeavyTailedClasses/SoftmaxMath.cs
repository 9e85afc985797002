using System;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kernels;

namespace HeavyTailedClasses;

/// <summary>Vectorized pieces of the softmax that give the same bits at every vector width.</summary>
internal static class SoftmaxMath
{
    /// <summary>
    /// <c>values[k] = e^(values[k] - shift)</c>. <see cref="KernelMath.Exp(Vector256{float})"/> returns the scalar
    /// <see cref="KernelMath.Exp(float)"/>'s bits in every lane, so the widest vector the machine has changes the speed only.
    /// </summary>
    public static void ExpShifted(Span<float> values, float shift)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Span<Vector512<float>> vectors = MemoryMarshal.Cast<float, Vector512<float>>(values);
            Vector512<float> s = Vector512.Create(shift);
            for (int v = 0; v < vectors.Length; v++)
                vectors[v] = KernelMath.Exp(vectors[v] - s);
            i = vectors.Length * Vector512<float>.Count;
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Span<Vector256<float>> vectors = MemoryMarshal.Cast<float, Vector256<float>>(values);
            Vector256<float> s = Vector256.Create(shift);
            for (int v = 0; v < vectors.Length; v++)
                vectors[v] = KernelMath.Exp(vectors[v] - s);
            i = vectors.Length * Vector256<float>.Count;
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Span<Vector128<float>> vectors = MemoryMarshal.Cast<float, Vector128<float>>(values);
            Vector128<float> s = Vector128.Create(shift);
            for (int v = 0; v < vectors.Length; v++)
                vectors[v] = KernelMath.Exp(vectors[v] - s);
            i = vectors.Length * Vector128<float>.Count;
        }
        for (; i < values.Length; i++)
            values[i] = KernelMath.Exp(values[i] - shift);
    }
}

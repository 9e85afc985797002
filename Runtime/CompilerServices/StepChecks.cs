using System;
using System.ComponentModel;

namespace Kernels.CompilerServices;

/// <summary>
/// The argument checks of the generated overloads, in one place so the emitted files stay short. Each
/// throws an <see cref="ArgumentException"/> naming the argument; generated code calls them before any
/// element is written. Parameter names arrive as strings (not <c>nameof</c>), so a rule parameter named
/// <c>nameof</c> cannot change their meaning.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class StepChecks
{
    /// <summary>A per-element span of a step must be as long as the first.</summary>
    public static void SameLength(int length, int expected, string name, string first)
    {
        if (length != expected)
            throw new ArgumentException($"'{name}' has {length} elements but '{first}' has {expected}; every per-element span of a step must have the same length.", name);
    }

    /// <summary>
    /// No buffer the step writes shares memory with another per-element buffer (two read-only ones may): every pair of
    /// <paramref name="b0"/>…<paramref name="b7"/> where bit <c>i</c> of <paramref name="written"/> is set for either.
    /// <paramref name="names"/> lists the buffers' names, comma-separated, in the same order. Unused buffers are empty.
    /// </summary>
    public static void NoOverlap<T>(string names, int written,
        ReadOnlySpan<T> b0, ReadOnlySpan<T> b1, ReadOnlySpan<T> b2 = default, ReadOnlySpan<T> b3 = default,
        ReadOnlySpan<T> b4 = default, ReadOnlySpan<T> b5 = default, ReadOnlySpan<T> b6 = default, ReadOnlySpan<T> b7 = default)
    {
        int at = Overlapping(written, b0, b1, b2, b3, b4, b5, b6, b7);
        if (at >= 0)
        {
            string[] name = names.Split(',');
            throw new ArgumentException($"'{name[at & 0xFF]}' overlaps '{name[at >> 8]}'; a span the step writes must not share memory with another per-element span.", name[at & 0xFF]);
        }
    }

    /// <summary>The multi-tensor form of <see cref="NoOverlap{T}(string, int, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T})"/>: the buffers of tensor <paramref name="tensor"/>.</summary>
    public static void NoTensorOverlap<T>(int tensor, string names, int written,
        ReadOnlySpan<T> b0, ReadOnlySpan<T> b1, ReadOnlySpan<T> b2 = default, ReadOnlySpan<T> b3 = default,
        ReadOnlySpan<T> b4 = default, ReadOnlySpan<T> b5 = default, ReadOnlySpan<T> b6 = default, ReadOnlySpan<T> b7 = default)
    {
        int at = Overlapping(written, b0, b1, b2, b3, b4, b5, b6, b7);
        if (at >= 0)
        {
            string[] name = names.Split(',');
            throw new ArgumentException($"'{name[at & 0xFF]}[{tensor}]' overlaps '{name[at >> 8]}[{tensor}]'; a buffer the step writes must not share memory with another per-element buffer.", name[at & 0xFF]);
        }
    }

    /// <summary>The first overlapping pair (i &lt; j) with a written member, as <c>i &lt;&lt; 8 | j</c>, or -1.</summary>
    private static int Overlapping<T>(int written, ReadOnlySpan<T> b0, ReadOnlySpan<T> b1, ReadOnlySpan<T> b2, ReadOnlySpan<T> b3,
        ReadOnlySpan<T> b4, ReadOnlySpan<T> b5, ReadOnlySpan<T> b6, ReadOnlySpan<T> b7)
    {
        for (int i = 0; i < 8; i++)
        {
            for (int j = i + 1; j < 8; j++)
            {
                if (((written >> i) & 1) == 0 && ((written >> j) & 1) == 0)
                    continue;
                ReadOnlySpan<T> a = Pick(i, b0, b1, b2, b3, b4, b5, b6, b7), b = Pick(j, b0, b1, b2, b3, b4, b5, b6, b7);
                if (!a.IsEmpty && !b.IsEmpty && a.Overlaps(b))
                    return i << 8 | j;
            }
        }
        return -1;
    }

    private static ReadOnlySpan<T> Pick<T>(int i, ReadOnlySpan<T> b0, ReadOnlySpan<T> b1, ReadOnlySpan<T> b2, ReadOnlySpan<T> b3,
        ReadOnlySpan<T> b4, ReadOnlySpan<T> b5, ReadOnlySpan<T> b6, ReadOnlySpan<T> b7) => i switch
    {
        0 => b0, 1 => b1, 2 => b2, 3 => b3, 4 => b4, 5 => b5, 6 => b6, _ => b7,
    };

    /// <summary>
    /// The element type of a storage overload's buffer is one the kernels can widen and narrow: float,
    /// <see cref="Kernels.Precision.BFloat16"/> or <see cref="Half"/>. The test folds away for those types.
    /// </summary>
    /// <typeparam name="T">The type argument.</typeparam>
    /// <param name="name">The (first) argument of that type, named in the message.</param>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is another type.</exception>
    public static void StorageType<T>(string name)
    {
        if (!Storage.IsSupported<T>())
            throw new NotSupportedException($"'{name}' holds {typeof(T)}; a buffer may be stored as float, Kernels.Precision.BFloat16 or System.Half.");
    }

    /// <summary>Stochastic rounding is asked for only where it exists: a bfloat16 or float parameter (a float one is not rounded).</summary>
    /// <typeparam name="T">The parameter's storage type.</typeparam>
    /// <param name="rounding">The caller's rounding.</param>
    /// <param name="name">The parameter's argument, named in the message.</param>
    /// <exception cref="NotSupportedException">Stochastic rounding is enabled for a <see cref="Half"/> parameter.</exception>
    public static void StochasticRounding<T>(in Kernels.Precision.StochasticRounding rounding, string name)
    {
        if (rounding.IsEnabled && typeof(T) == typeof(Half))
            throw new NotSupportedException($"'{name}' holds System.Half, which has no stochastic rounding; round it to nearest (StochasticRounding.None) or store it as Kernels.Precision.BFloat16.");
    }

    /// <summary>Every list of the multi-tensor overload holds one buffer per tensor.</summary>
    public static void SameCount(int count, int expected, string name, string first)
    {
        if (count != expected)
            throw new ArgumentException($"'{name}' holds {count} tensors but '{first}' holds {expected}; every list must have one buffer per tensor.", name);
    }

    /// <summary>The buffers of one tensor have the same length.</summary>
    public static void SameTensorLength(int length, int expected, int tensor, string name, string first)
    {
        if (length != expected)
            throw new ArgumentException($"'{name}[{tensor}]' has {length} elements but '{first}[{tensor}]' has {expected}; the buffers of a tensor must have the same length.", name);
    }
}

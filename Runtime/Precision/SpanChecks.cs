using System;
using System.Runtime.InteropServices;

namespace Kernels.Precision;

/// <summary>The argument checks of the span-level conversions and quantizers.</summary>
internal static class SpanChecks
{
    /// <summary>Throws unless a destination of <paramref name="destinationLength"/> elements can hold <paramref name="required"/>.</summary>
    public static void Fits(int destinationLength, int required, string name)
    {
        if (destinationLength < required)
            throw new ArgumentException($"'{name}' has {destinationLength} elements but {required} are needed.", name);
    }

    /// <summary>Throws if the two spans share any byte of memory.</summary>
    public static void NoOverlap<TSource, TDestination>(ReadOnlySpan<TSource> source, Span<TDestination> destination, string name)
        where TSource : struct
        where TDestination : struct
    {
        ReadOnlySpan<byte> a = MemoryMarshal.AsBytes(source);
        ReadOnlySpan<byte> b = MemoryMarshal.AsBytes((ReadOnlySpan<TDestination>)destination);
        if (!a.IsEmpty && !b.IsEmpty && a.Overlaps(b))
            throw new ArgumentException($"'{name}' overlaps the source; a conversion cannot write into the memory it reads.", name);
    }
}

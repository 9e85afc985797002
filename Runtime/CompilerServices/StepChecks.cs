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

    /// <summary>A written span must not share memory with another per-element span (two read-only ones may).</summary>
    public static void NoOverlap<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, string aName, string bName)
    {
        if (a.Overlaps(b))
            throw new ArgumentException($"'{bName}' overlaps '{aName}'; a span the step writes must not share memory with another per-element span.", bName);
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

    /// <summary>A buffer the step writes must not share memory with another buffer of its tensor.</summary>
    public static void NoTensorOverlap<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, int tensor, string aName, string bName)
    {
        if (a.Overlaps(b))
            throw new ArgumentException($"'{bName}[{tensor}]' overlaps '{aName}[{tensor}]'; a buffer the step writes must not share memory with another per-element buffer.", bName);
    }
}

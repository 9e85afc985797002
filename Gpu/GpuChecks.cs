using System;
using System.ComponentModel;
using ILGPU;
using ILGPU.Runtime;

namespace Kernels.Gpu;

/// <summary>Host-side argument checks of the generated GPU launchers, before anything is launched.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GpuChecks
{
    /// <summary>Kernels index elements with an <see cref="Index1D"/>: at most <see cref="int.MaxValue"/> per launch.</summary>
    public const long MaxElements = int.MaxValue;

    /// <summary>Throws unless <paramref name="view"/> is a valid view on <paramref name="accelerator"/>'s memory.</summary>
    public static void RequireOn<T>(Accelerator accelerator, ArrayView<T> view, string name) where T : unmanaged
    {
        if (!view.IsValid)
            throw new ArgumentException($"'{name}' is not a valid view (default or disposed buffer).", name);
        Accelerator? owner = view.GetAccelerator();
        if (!ReferenceEquals(owner, accelerator))
            throw new ArgumentException($"'{name}' lives on {Describe(owner)} but the stream belongs to {Describe(accelerator)}; every view of a step must be on the stream's accelerator.", name);
    }

    /// <summary>Throws unless <paramref name="length"/> fits one launch.</summary>
    public static void RequireLaunchable(long length, string name)
    {
        if (length > MaxElements)
            throw new ArgumentException($"'{name}' has {length} elements; one launch handles at most {MaxElements} (split the step).", name);
    }

    /// <summary>Whether two views share any memory (same buffer, overlapping byte ranges; the element types may differ).</summary>
    public static bool Overlaps<TA, TB>(ArrayView<TA> a, ArrayView<TB> b) where TA : unmanaged where TB : unmanaged
    {
        if (!a.IsValid || !b.IsValid || a.Length == 0 || b.Length == 0 || !ReferenceEquals(a.GetAccelerator(), b.GetAccelerator()))
            return false;
        // Element addresses on the accelerator (device pointers on a GPU): overlapping byte ranges share memory.
        long startA = a.LoadEffectiveAddressAsPtr().ToInt64(), startB = b.LoadEffectiveAddressAsPtr().ToInt64();
        return startA < startB + b.LengthInBytes && startB < startA + a.LengthInBytes;
    }

    private static string Describe(Accelerator? accelerator) => accelerator is null ? "no accelerator" : $"'{accelerator.Name}' ({accelerator.AcceleratorType})";
}

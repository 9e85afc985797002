using System.ComponentModel;

namespace Kernels.CompilerServices;

/// <summary>
/// A compile-time bool for generated kernels: a step-invariant flag becomes a generic struct argument, so
/// the JIT compiles one loop per flag combination actually used, with the flag's branches removed —
/// loop unswitching the JIT does not do by itself.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IFlag
{
    /// <summary>The flag's value, a constant in each instantiation.</summary>
    static abstract bool Value { get; }
}

/// <summary>The flag is set.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct True : IFlag
{
    /// <inheritdoc/>
    public static bool Value => true;
}

/// <summary>The flag is clear.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct False : IFlag
{
    /// <inheritdoc/>
    public static bool Value => false;
}

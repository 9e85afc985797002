using System;

namespace Kernels.Precision;

/// <summary>
/// Asks a generated storage step (through <see cref="StepOptions.Rounding"/>) to round the parameters it stores as
/// <see cref="BFloat16"/> stochastically instead of to nearest: element <c>i</c> of the step (its position in the span, or in the concatenation of a multi-tensor step's
/// tensors) is rounded with <c>RandomStream.Bits16(Seed, Step, FirstIndex + i)</c>, so its bits depend on nothing else —
/// not on the thread count, the chunking or the vector width. <c>default</c> rounds to nearest.
/// </summary>
/// <remarks>
/// Only the parameter buffer (the rule's first <c>ref</c> parameter) is rounded stochastically, and only where it is
/// stored as <see cref="BFloat16"/>: updates far below bfloat16's resolution (<c>lr · wd · p</c>) then survive on
/// average. State buffers stored in 16 bits are rounded to nearest; a float parameter is not rounded at all. fp16
/// (<see cref="Half"/>) parameters have no stochastic rounding: a step that stores them throws
/// <see cref="NotSupportedException"/> when this is enabled. Use one seed per tensor (or per model, for a multi-tensor
/// step) and a fresh <see cref="Step"/> for every optimizer step.
/// </remarks>
public readonly struct StochasticRounding : IEquatable<StochasticRounding>
{
    /// <summary>Stochastic rounding keyed by <paramref name="seed"/> and <paramref name="step"/>.</summary>
    /// <param name="seed">The random stream's key.</param>
    /// <param name="step">The optimizer step (a counter that must differ between calls that should get fresh bits).</param>
    /// <param name="firstIndex">The element index of the step's first element (0 for a whole tensor; the offset of a piece of a tensor stepped on its own).</param>
    public StochasticRounding(ulong seed, ulong step, ulong firstIndex = 0)
    {
        Seed = seed;
        Step = step;
        FirstIndex = firstIndex;
        IsEnabled = true;
    }

    /// <summary>Round to nearest, ties to even (the default).</summary>
    public static StochasticRounding None => default;

    /// <summary>Whether parameters stored as bfloat16 are rounded stochastically (false for <c>default</c>).</summary>
    public bool IsEnabled { get; }

    /// <summary>The random stream's key.</summary>
    public ulong Seed { get; }

    /// <summary>The step counter of the random stream.</summary>
    public ulong Step { get; }

    /// <summary>The element index of the step's first element.</summary>
    public ulong FirstIndex { get; }

    /// <summary>
    /// The same rounding for the elements from <paramref name="count"/> on: <see cref="FirstIndex"/> advanced by
    /// <paramref name="count"/> (wrapping as <see cref="ulong"/> arithmetic does), so stepping a tensor in pieces gives the
    /// bits of stepping it at once. <c>default</c> stays <c>default</c>.
    /// </summary>
    /// <param name="count">How many elements come before the piece.</param>
    /// <returns>The rounding of the piece.</returns>
    public StochasticRounding Skip(ulong count) => IsEnabled ? new StochasticRounding(Seed, Step, unchecked(FirstIndex + count)) : default;

    /// <inheritdoc/>
    public bool Equals(StochasticRounding other) =>
        IsEnabled == other.IsEnabled && Seed == other.Seed && Step == other.Step && FirstIndex == other.FirstIndex;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is StochasticRounding other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(IsEnabled, Seed, Step, FirstIndex);

    /// <summary>Equality of every field.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator ==(StochasticRounding left, StochasticRounding right) => left.Equals(right);

    /// <summary>Inequality of any field.</summary>
    /// <param name="left">First value.</param>
    /// <param name="right">Second value.</param>
    public static bool operator !=(StochasticRounding left, StochasticRounding right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => IsEnabled ? $"Stochastic(seed {Seed}, step {Step}, first index {FirstIndex})" : "Nearest";
}

using System;

namespace Kernels.Training;

/// <summary>How an optimizer stores the state buffers of a parameter.</summary>
public enum StateStorage
{
    /// <summary>In the rule's element type (float or double): exact.</summary>
    Full = 0,

    /// <summary>
    /// 8-bit blockwise-quantized (Dettmers et al. 2021, bitsandbytes' blockwise 8-bit optimizers): one code per element
    /// and one float absmax per block of 256, the signed dynamic map for ordinary buffers and the unsigned one for
    /// buffers the rule marks <see cref="NonNegativeAttribute"/>. A step dequantizes a block, runs the rule on it in
    /// float and re-quantizes it with the block's new absmax: one fused pass, about 1.016 bytes per element instead of 4.
    /// </summary>
    Blockwise8Bit = 1,
}

/// <summary>
/// The optimizer's choice of state storage: <see cref="Full"/> (the default), or <see cref="Blockwise8Bit"/> for
/// parameters of at least <see cref="MinElements"/> elements (smaller ones, biases and gains, stay full: their state is
/// small and the most sensitive).
/// </summary>
/// <param name="Storage">How state is stored for parameters of at least <paramref name="MinElements"/> elements.</param>
/// <param name="MinElements">The smallest parameter whose state is stored as <paramref name="Storage"/>.</param>
public sealed record StatePrecision(StateStorage Storage, int MinElements)
{
    /// <summary>bitsandbytes' default threshold: parameters under 4,096 elements keep 32-bit state.</summary>
    public const int DefaultMinElements = 4096;

    /// <summary>Every state buffer in the rule's element type.</summary>
    public static StatePrecision Full { get; } = new(StateStorage.Full, 0);

    /// <summary>8-bit blockwise state for parameters of at least <paramref name="minElements"/> elements, full state below.</summary>
    /// <param name="minElements">The threshold (0: every parameter).</param>
    /// <returns>The choice.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minElements"/> is negative.</exception>
    public static StatePrecision Blockwise8Bit(int minElements = DefaultMinElements)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minElements);
        return new StatePrecision(StateStorage.Blockwise8Bit, minElements);
    }

    /// <summary>Whether a parameter of <paramref name="length"/> elements gets quantized state.</summary>
    internal bool Quantizes(int length) => Storage == StateStorage.Blockwise8Bit && length >= MinElements && length > 0;
}

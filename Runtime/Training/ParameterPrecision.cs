using System;

namespace Kernels.Training;

/// <summary>How an optimizer stores the new value of a parameter held in 16 bits.</summary>
public enum ParameterRounding
{
    /// <summary>Round to nearest, ties to even (PyTorch's <c>tensor.to(torch.bfloat16)</c>).</summary>
    Nearest = 0,

    /// <summary>
    /// Stochastic rounding of <see cref="Kernels.Precision.BFloat16"/> parameters, driven by a counter-based random stream keyed by
    /// (seed, step, element index): updates far below bfloat16's resolution survive on average, and the bits do not
    /// depend on the thread count (see <see cref="Kernels.Precision.StochasticRounding"/>). fp16 parameters have no
    /// stochastic rounding.
    /// </summary>
    Stochastic = 1,
}

/// <summary>
/// How an optimizer of a float rule updates parameters stored in 16 bits (<see cref="Parameter{T}"/> of
/// <see cref="Kernels.Precision.BFloat16"/> or <see cref="Half"/>): each step widens the parameter and its gradient to
/// float, runs the rule in float (state as <see cref="StatePrecision"/> says) and stores the new value rounded to
/// <see cref="Rounding"/>; or, with <see cref="MasterWeights"/>, keeps an fp32 copy of the parameter as state, updates
/// that copy, and writes it back rounded to nearest; or, with <see cref="Compensation"/>, keeps a 16-bit compensation
/// (Kahan-style) per element that carries what rounding the parameter lost into the next step. Float parameters are
/// never rounded.
/// </summary>
/// <remarks>
/// <para>
/// The stochastic stream of element <c>j</c> of parameter <c>p</c> at step <c>t</c> (<c>p</c>'s step count) is
/// <c>RandomStream.Bits16(Seed, t, offset(p) + j)</c>, where <c>offset(p)</c> is the number of elements of the parameters
/// before <c>p</c> in <see cref="Optimizer.Parameters"/>: every element of the model gets its own bits, and they depend on
/// nothing else.
/// </para>
/// <para>
/// Master weights cost 4 bytes per element more and make the step a fused pass over the fp32 copy followed by a
/// narrowing copy into the parameter; the fp32 copy is taken from the parameter at its first step and is part of the
/// state dict (buffer <see cref="MasterStateName"/>), so a checkpoint restores it. Change a parameter's 16-bit values by
/// hand and its master copy no longer follows: load a state dict, or build a new optimizer.
/// </para>
/// <para>
/// Compensation costs 2 bytes per element more (a buffer of the parameter's own 16-bit type, zero at the start, state
/// buffer <see cref="CompensationStateName"/>). The rule sees <c>p + c</c> (both widened, added in float) and computes
/// the new value <c>v</c>; then <c>p = round(v)</c> and <c>c = round(v - p)</c>, both to nearest (<c>v - p</c> is exact
/// in float). So <c>p + c</c> holds about twice the parameter's significant bits, and updates far below its resolution
/// accumulate in <c>c</c> until they move <c>p</c> — deterministically, where stochastic rounding does so on average.
/// Where <c>p</c> is not finite, <c>c</c> is 0. The model reads <c>p</c> only; the step runs through
/// <c>BlockwiseStorageStep</c> a block of 256 at a time (the pair widened into float scratch, the rule's storage kernel on
/// it, the pair written back), together with 8-bit state if asked.
/// </para>
/// </remarks>
/// <param name="Rounding">How a bfloat16 parameter's new value is rounded (without master weights or compensation).</param>
/// <param name="Seed">The key of the stochastic rounding's random stream.</param>
/// <param name="MasterWeights">Keep an fp32 master copy of each 16-bit parameter as state.</param>
/// <param name="Compensation">Keep a 16-bit compensation buffer per 16-bit parameter (Kahan-style; see the remarks).</param>
public sealed record ParameterPrecision(ParameterRounding Rounding, ulong Seed, bool MasterWeights, bool Compensation = false)
{
    /// <summary>The name of the fp32 master copy in state dicts and checkpoints.</summary>
    public const string MasterStateName = "master";

    /// <summary>The name of the compensation buffer in state dicts and checkpoints.</summary>
    public const string CompensationStateName = "compensation";

    /// <summary>Round to nearest, ties to even; no master copy (the default).</summary>
    public static ParameterPrecision Nearest { get; } = new(ParameterRounding.Nearest, 0, false);

    /// <summary>An fp32 master copy per 16-bit parameter, written back rounded to nearest after each step.</summary>
    public static ParameterPrecision Fp32MasterWeights { get; } = new(ParameterRounding.Nearest, 0, true);

    /// <summary>A 16-bit compensation buffer per 16-bit parameter (Kahan-style), both rounded to nearest: 2 bytes per element instead of master weights' 4.</summary>
    public static ParameterPrecision Compensated { get; } = new(ParameterRounding.Nearest, 0, false, true);

    /// <summary>Stochastic rounding of bfloat16 parameters, keyed by <paramref name="seed"/>, the step count and the element index.</summary>
    /// <param name="seed">The random stream's key.</param>
    /// <returns>The choice.</returns>
    public static ParameterPrecision Stochastic(ulong seed = 0) => new(ParameterRounding.Stochastic, seed, false);
}

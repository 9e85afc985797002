using System;

namespace Kernels;

/// <summary>
/// Tensor-wide reductions inside an <see cref="UpdateRuleAttribute">update rule</see>: <c>Reduce.Sum(p * p)</c> is the
/// sum of <c>p * p</c> over every element of the tensor being updated, a value the rule's later statements use like
/// any other (LAMB's trust ratio ‖p‖ / ‖u‖, LARS's local learning rate).
/// </summary>
/// <remarks>
/// <para>
/// The generator runs such a rule in two passes over each tensor. The first runs the statements the reductions need
/// (up to the last statement that calls <c>Reduce</c>) for every element, writing nothing, and reduces the arguments;
/// the second runs the whole rule with each call replaced by its result, recomputing what the first pass computed
/// rather than storing it (one extra read of the buffers, no temporaries in memory).
/// </para>
/// <para>
/// The order is fixed, so the result does not depend on the thread count, the vector width or the device: the tensor
/// is cut into blocks of <see cref="Training.GradientClipping.BlockLength"/> elements; within a block, element
/// <c>i</c>'s value, converted exactly to double, is added to accumulator <c>i % 64</c> in increasing <c>i</c>; the 64
/// accumulators are combined by the fixed tree a[k] += a[k + 32], then + [k + 16], … + [k + 1]; the blocks' partials
/// are added in block order, in double, from 0; the total is rounded once to the argument's type. (The same order as
/// <see cref="Training.GradientClipping"/>.) <see cref="Max(float)"/> is exact in any order; it propagates NaN and is
/// −∞ over an empty tensor.
/// </para>
/// <para>
/// Where it may appear: in a statement at the top level of the rule (not under an <c>if</c>, a <c>?:</c>, <c>&amp;&amp;</c>
/// or <c>||</c>, nor in a helper method), with an argument that does not depend on another reduction's result (that
/// would need a third pass). KRN0118 explains any other use. Calling these methods outside a generated overload
/// throws: a single element has no tensor to reduce over.
/// </para>
/// </remarks>
public static class Reduce
{
    /// <summary>The sum of <paramref name="value"/> over every element of the tensor, in the fixed order (see <see cref="Reduce"/>).</summary>
    /// <param name="value">The per-element value to sum.</param>
    /// <exception cref="InvalidOperationException">Always, when called outside a generated overload.</exception>
    public static float Sum(float value) => throw OutsideKernel(nameof(Sum));

    /// <inheritdoc cref="Sum(float)"/>
    public static double Sum(double value) => throw OutsideKernel(nameof(Sum));

    /// <summary>The largest <paramref name="value"/> over every element of the tensor (NaN if any is NaN; −∞ over none).</summary>
    /// <param name="value">The per-element value.</param>
    /// <exception cref="InvalidOperationException">Always, when called outside a generated overload.</exception>
    public static float Max(float value) => throw OutsideKernel(nameof(Max));

    /// <inheritdoc cref="Max(float)"/>
    public static double Max(double value) => throw OutsideKernel(nameof(Max));

    private static InvalidOperationException OutsideKernel(string name) => new(
        $"Reduce.{name} reduces over a whole tensor: it has a value only inside an [UpdateRule] run through its generated " +
        "span, multi-tensor or optimizer overloads, not when the rule is called for one element.");
}

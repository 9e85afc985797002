using System;
using System.Diagnostics;

namespace Kernels;

/// <summary>
/// Marks a static method as an optimizer update rule written for one parameter element.
/// The Kernels source generator adds, on the same partial type, an overload with the same name and
/// parameter order that runs the rule over whole spans in one fused, vectorized pass.
/// </summary>
/// <remarks>
/// Parameter roles follow from their modifiers:
/// <list type="bullet">
/// <item><c>ref float</c> / <c>ref double</c>: per-element, read and written (parameter, optimizer state) → <see cref="Span{T}"/>.</item>
/// <item><c>in float</c> / <c>in double</c>: per-element, read only (gradient) → <see cref="ReadOnlySpan{T}"/>.</item>
/// <item>any other parameter: uniform for the whole step (hyperparameters, step count, flags), passed through unchanged.</item>
/// </list>
/// </remarks>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
[Conditional("KERNELS_KEEP_ATTRIBUTES")]
public sealed class UpdateRuleAttribute : Attribute
{
    /// <summary>
    /// Whether the generator also adds an optimizer object for the rule (a nested <c>Optimizer</c> class, or
    /// <c>{Method}Optimizer</c> when the method is not named <c>Step</c>, with its <c>Options</c>); true by default.
    /// Set it to false for a rule that is not a parameter update (e.g. one that updates an auxiliary estimate).
    /// </summary>
    public bool GenerateOptimizer { get; set; } = true;
}

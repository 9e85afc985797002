using System;
using Kernels.Generator.Helpers;

namespace Kernels.Generator.Model;

/// <summary>How a rule parameter is used.</summary>
internal enum ParameterRole
{
    /// <summary><c>ref T</c>: per-element, read and written.</summary>
    Ref,
    /// <summary><c>in T</c>: per-element, read only.</summary>
    In,
    /// <summary>Anything else: one value for the whole step.</summary>
    Uniform,
}

/// <summary>One parameter of the rule, as the span overload declares it.</summary>
/// <param name="Name">The parameter's name (escaped with @ where needed).</param>
/// <param name="Role">Per-element (ref/in) or uniform.</param>
/// <param name="TypeName">Fully qualified type (the element type for per-element parameters).</param>
/// <param name="DefaultValue">The default value's C# text, or null.</param>
/// <param name="Modifier">"", "in", "ref readonly" or "scoped" for uniform parameters passed by reference.</param>
/// <param name="IsRead">Whether the rule reads a per-element parameter (decides whether the vector loop loads it).</param>
/// <param name="IsWritten">Whether the rule assigns a per-element parameter (decides whether the vector loop stores it).</param>
/// <param name="Guard">Name of the hoisted bool under which the buffer is touched; null when every call touches it.</param>
/// <param name="Storage">For a buffer: the type its memory holds (converted to the rule's type on load and back on store).</param>
internal sealed record ParameterSpec(
    string Name,
    ParameterRole Role,
    string TypeName,
    string? DefaultValue,
    string Modifier,
    bool IsRead,
    bool IsWritten,
    string? Guard,
    ScalarType Storage = ScalarType.Float32)
{
    /// <summary>
    /// Whether a loop loads the buffer: when the rule reads it, and always for a written <c>ref</c> buffer (a store must
    /// write back the old value in lanes or elements a conditional assignment skips).
    /// </summary>
    public bool IsLoaded => IsRead || (Role == ParameterRole.Ref && IsWritten);
}

/// <summary>A value the kernel needs from the host: a hoisted step-invariant value or condition.</summary>
/// <param name="Name">Local name in the emitted code.</param>
/// <param name="Type">The element type, the other floating type, or bool.</param>
internal sealed record KernelInputSpec(string Name, ScalarType Type)
{
    public string TypeName => Type.Keyword();
}

/// <summary>
/// One <c>Reduce.Sum</c>/<c>Reduce.Max</c> of the rule: <see cref="Input"/> is the kernel input the update pass reads
/// its result from; <see cref="Output"/> the buffer the reduction pass writes its per-element argument to.
/// </summary>
internal sealed record ReductionSpec(string Input, string Output, bool IsMax);

/// <summary>One enclosing type of the rule, outermost first, as it must be re-declared for the partial.</summary>
internal sealed record ContainingTypeSpec(string Keyword, string Name, bool IsStatic);

/// <summary>
/// Everything the emitters need to write one rule's span overload: plain strings and equatable
/// collections only, so the incremental pipeline can cache it.
/// </summary>
/// <remarks>
/// <see cref="ExportsPlan"/>: the rule's type can be named from assembly level (every containing type public or
/// internal), so the generator records the model as <c>[assembly: RulePlan(typeof(…), …)]</c> for other compilations
/// (set by <see cref="UpdateRuleGenerator"/>). Serialized by <see cref="RuleSpecSerializer"/>: a new field goes there too.
/// </remarks>
internal sealed record RuleSpec(
    string? Namespace,
    EquatableArray<ContainingTypeSpec> ContainingTypes,
    string MethodName,
    string Accessibility,
    ScalarType Element,
    EquatableArray<ParameterSpec> Parameters,
    EquatableArray<string> Prologue,
    EquatableArray<KernelInputSpec> KernelInputs,
    EquatableArray<ElementStmt> Body,
    string ScalarSignature,
    EquatableArray<string> TakenNames,
    bool HasErrors = false,
    string? FaultName = null,
    bool ExportsPlan = false,
    EquatableArray<ReductionSpec> Reductions = default,
    EquatableArray<ElementStmt> ReductionBody = default)
{
    /// <summary>Whether the rule calls <c>Kernels.Reduce</c>: it then runs as a reduction pass and an update pass.</summary>
    public bool HasReductions => Reductions.Count > 0;

    /// <summary>The compute type's keyword.</summary>
    public string ElementType => Element.Keyword();

    public string HintName
    {
        get
        {
            string types = string.Join(".", System.Linq.Enumerable.Select(ContainingTypes, t => t.Name));
            string prefix = Namespace is null ? "" : Namespace + ".";
            return (prefix + types + "." + MethodName.TrimStart('@')).Replace('<', '{').Replace('>', '}') + ".g.cs";
        }
    }

    public bool IsDouble => Element == ScalarType.Float64;
}

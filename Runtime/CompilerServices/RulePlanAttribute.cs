using System;
using System.ComponentModel;

namespace Kernels.CompilerServices;

/// <summary>
/// The model of one <c>[UpdateRule]</c> of this assembly, written by the generator so that another compilation can
/// generate code for the rule without its source: a project referencing ILGPU and Kernels.Gpu generates GPU
/// launchers for the rules of its referenced assemblies (that is how Kernels.Gpu gets the built-ins' launchers).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true, Inherited = false)]
public sealed class RulePlanAttribute : Attribute
{
    /// <summary>Records one rule's plan.</summary>
    /// <param name="ruleType">The type declaring the rule.</param>
    /// <param name="method">The rule's method name.</param>
    /// <param name="plan">The generator's serialized model of the rule (a versioned text format private to the generator).</param>
    public RulePlanAttribute(Type ruleType, string method, string plan)
    {
        RuleType = ruleType;
        Method = method;
        Plan = plan;
    }

    /// <summary>The type declaring the rule.</summary>
    public Type RuleType { get; }

    /// <summary>The rule's method name.</summary>
    public string Method { get; }

    /// <summary>The generator's serialized model of the rule.</summary>
    public string Plan { get; }
}

using Kernels.Generator.Helpers;

namespace Kernels.Generator.Model;

/// <summary>How a hyperparameter reads and writes as a number (by name, for schedules and checkpoints).</summary>
internal enum HyperparameterKind
{
    Double,
    Single,
    Int32,
    Int64,
    Bool,
    /// <summary>Any other type: a typed property only, not visible by name.</summary>
    Other,
}

/// <summary>One hyperparameter of the generated optimizer: a uniform of the rule, or one declared with <c>[Hyperparameter]</c>.</summary>
/// <param name="Name">The rule's name for it (escaped where needed): the constructor parameter and the by-name key.</param>
/// <param name="Property">Its property on the options class (PascalCase).</param>
/// <param name="TypeName">Fully qualified type.</param>
/// <param name="DefaultValue">The default's C# text, or null when the constructor requires it.</param>
/// <param name="Kind">How it reads as a number.</param>
/// <param name="IsRuleParameter">Whether the rule takes it (else it only exists for the optimizer).</param>
/// <param name="Documentation">Its description from the rule's XML docs (plain, safe for a summary), or null.</param>
internal sealed record HyperparameterSpec(string Name, string Property, string TypeName, string? DefaultValue, HyperparameterKind Kind, bool IsRuleParameter, string? Documentation);

/// <summary>One state buffer: a <c>ref</c> parameter of the rule after the parameter itself.</summary>
/// <param name="Name">The parameter's name (escaped where needed).</param>
/// <param name="InitialValue">The C# text of its initial value over the options object <c>__options</c>, or null for 0.</param>
/// <param name="NonNegative">Marked <c>[NonNegative]</c>: 8-bit storage uses the unsigned map.</param>
internal sealed record StateBufferSpec(string Name, string? InitialValue, bool NonNegative = false);

/// <summary>One per-tensor value carried across steps (<c>[TensorState]</c>).</summary>
/// <param name="Name">The rule's uniform parameter.</param>
/// <param name="TypeName">Its type (float or double).</param>
/// <param name="Initial">Its value before the first step, as C# double text (over the options object <c>__options</c>).</param>
/// <param name="UpdateCall">The C# text of the update call, with <c>{0}</c> where the previous value goes.</param>
/// <param name="AfterStep">Advanced after the step (the rule gets the stored value) rather than before.</param>
internal sealed record TensorStateSpec(string Name, string TypeName, string Initial, string UpdateCall, bool AfterStep);

/// <summary>Everything the optimizer emitter needs: the rule, and how each of its parameters maps onto an optimizer.</summary>
/// <param name="Rule">The rule (its file frame, kernel names, parameters).</param>
/// <param name="TypeName">The nested optimizer class (<c>Optimizer</c>, or <c>{Method}Optimizer</c>).</param>
/// <param name="OptionsName">The nested hyperparameter class.</param>
/// <param name="Accessibility">Of both classes.</param>
/// <param name="ContainingType">The rule's type, fully qualified.</param>
/// <param name="RuleName">The rule as a checkpoint names it: namespace, types and method.</param>
/// <param name="StepName">The uniform that receives the step count, or null.</param>
/// <param name="StepTypeName">Its type.</param>
internal sealed record OptimizerSpec(
    RuleSpec Rule,
    string TypeName,
    string OptionsName,
    string Accessibility,
    string ContainingType,
    string RuleName,
    EquatableArray<HyperparameterSpec> Hyperparameters,
    EquatableArray<StateBufferSpec> State,
    EquatableArray<TensorStateSpec> TensorState,
    string? StepName,
    string? StepTypeName);

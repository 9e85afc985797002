using System;
using System.Diagnostics;

namespace Kernels;

/// <summary>
/// Marks the uniform parameter of an update rule that receives the step count (1 on the first step) from the generated
/// optimizer. A uniform named <c>step</c> of type <see cref="int"/> or <see cref="long"/> is the step count without it.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = false)]
[Conditional("KERNELS_KEEP_ATTRIBUTES")]
public sealed class StepCountAttribute : Attribute
{
}

/// <summary>
/// The value the generated optimizer fills a state buffer (a <c>ref</c> parameter after the first) with when it
/// allocates it: a constant, or the value of a hyperparameter of the group (e.g. Rprop's step size starts at <c>lr</c>).
/// Without it a state buffer starts at 0.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = false)]
[Conditional("KERNELS_KEEP_ATTRIBUTES")]
public sealed class InitialValueAttribute : Attribute
{
    /// <summary>Starts the buffer at <paramref name="value"/>.</summary>
    public InitialValueAttribute(double value) => Value = value;

    /// <summary>Starts the buffer at the group's value of hyperparameter <paramref name="hyperparameter"/> (a uniform of the rule or a <see cref="HyperparameterAttribute"/>).</summary>
    public InitialValueAttribute(string hyperparameter) => Hyperparameter = hyperparameter;

    /// <summary>The constant initial value.</summary>
    public double Value { get; }

    /// <summary>The hyperparameter whose value is the initial value, or null.</summary>
    public string? Hyperparameter { get; }
}

/// <summary>
/// Declares a hyperparameter that the generated optimizer has and the rule does not read per step (e.g. Adagrad's
/// <c>initialAccumulatorValue</c>, used only by <see cref="InitialValueAttribute"/>). Its type is <see cref="double"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true, Inherited = false)]
[Conditional("KERNELS_KEEP_ATTRIBUTES")]
public sealed class HyperparameterAttribute : Attribute
{
    /// <summary>Declares hyperparameter <paramref name="name"/> with default <paramref name="defaultValue"/>.</summary>
    public HyperparameterAttribute(string name, double defaultValue)
    {
        Name = name;
        DefaultValue = defaultValue;
    }

    /// <summary>The hyperparameter's name, as a rule parameter would be named (camelCase).</summary>
    public string Name { get; }

    /// <summary>Its default.</summary>
    public double DefaultValue { get; }
}

/// <summary>
/// Marks a uniform parameter as one value per tensor that the generated optimizer carries across steps (PyTorch keeps
/// such values in the optimizer state, e.g. NAdam's <c>mu_product</c>). Before each step the optimizer calls the static
/// method <see cref="Update"/> of the rule's type with the previous value (<see cref="Initial"/> before the first step)
/// as its first argument, passes the result to the rule and keeps it (with <see cref="AfterStep"/>: passes the stored
/// value, then keeps the update computed after the step). The method's other parameters are bound by name:
/// <c>step</c> (or the rule's step-count parameter's name) receives the step count, a name of a hyperparameter its value;
/// any other parameter must have a default.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = false)]
[Conditional("KERNELS_KEEP_ATTRIBUTES")]
public sealed class TensorStateAttribute : Attribute
{
    /// <summary>Declares the update method (use <c>nameof</c>).</summary>
    public TensorStateAttribute(string update) => Update = update;

    /// <summary>The name of the static method of the rule's type that computes the next value.</summary>
    public string Update { get; }

    /// <summary>The value before the first step (0 unless set).</summary>
    public double Initial { get; set; }

    /// <summary>A hyperparameter whose value (in the parameter's group, at its first step) is the value before the first step, instead of <see cref="Initial"/>.</summary>
    public string? InitialHyperparameter { get; set; }

    /// <summary>
    /// Advance the value after each step instead of before it: the rule gets the value stored by the previous step
    /// (the initial value on the first), then <see cref="Update"/> computes the next from this step's count and
    /// hyperparameters (as PyTorch's ASGD stores <c>eta</c> and <c>mu</c> at the end of a step for the next).
    /// </summary>
    public bool AfterStep { get; set; }
}

/// <summary>
/// Marks a state buffer (a <c>ref</c> parameter after the first) whose values are never negative, such as a second
/// moment: when the optimizer stores state in 8 bits (<see cref="Kernels.Training.StatePrecision.Blockwise8Bit"/>), it
/// uses the unsigned dynamic map for it (all 256 codes for [0, 1]) instead of the signed one, as bitsandbytes does for
/// its second state. A negative value stored in such a buffer would be quantized to 0.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = false)]
[Conditional("KERNELS_KEEP_ATTRIBUTES")]
public sealed class NonNegativeAttribute : Attribute
{
}

using System;
using System.Collections.Generic;

namespace Kernels.Training;

/// <summary>One parameter group of an optimizer: its parameters and its own copy of the hyperparameters.</summary>
/// <typeparam name="T">The rule's element type.</typeparam>
/// <typeparam name="TOptions">The rule's generated hyperparameter class.</typeparam>
/// <remarks>Change <see cref="Options"/> between steps (by hand or with a schedule); the next <c>Step()</c> uses the new values.</remarks>
public sealed class ParamGroup<T, TOptions> : IParamGroup
    where T : unmanaged
    where TOptions : Hyperparameters
{
    private readonly Parameter[] _parameters;

    internal ParamGroup(Parameter[] parameters, TOptions options)
    {
        _parameters = parameters;
        Options = options;
    }

    /// <summary>The group's parameters, in the order they were given (of <typeparamref name="T"/>, or 16-bit ones for a float rule: see <see cref="Parameter.ElementType"/>).</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>The group's hyperparameters, strongly typed.</summary>
    public TOptions Options { get; }

    internal Parameter[] ParameterArray => _parameters;


    /// <inheritdoc/>
    public IReadOnlyList<string> HyperparameterNames => Options.Names;

    /// <inheritdoc/>
    public bool Contains(string name) => Options.Contains(name);

    /// <inheritdoc/>
    public double this[string name]
    {
        get => Options[name];
        set => Options[name] = value;
    }
}

using System;
using System.Collections.Generic;

namespace Kernels.Training;

/// <summary>
/// One trainable tensor as an optimizer sees it: a name, a shape, and the memory of its values and gradient
/// (row-major, contiguous). The optimizer never copies either: it updates <see cref="Parameter{T}.Data"/> in place.
/// </summary>
/// <remarks>The non-generic view lets optimizers, schedules and checkpoints handle a list of parameters of mixed precision.</remarks>
public abstract class Parameter
{
    private readonly int[] _shape;

    private protected Parameter(string name, int[] shape, int length)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                throw new ArgumentOutOfRangeException(nameof(shape), $"Parameter '{name}': dimension {d} is negative.");
            count *= d;
            if (count > int.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(shape), $"Parameter '{name}': more than {int.MaxValue} elements.");
        }
        if (length >= 0 && count != length)
            throw new ArgumentException($"Parameter '{name}': shape [{string.Join(", ", shape)}] holds {count} elements but its memory holds {length}.", nameof(shape));
        Name = name;
        _shape = (int[])shape.Clone();
        Length = (int)count;
    }

    /// <summary>The parameter's name (unique within an optimizer; used as its key in checkpoints).</summary>
    public string Name { get; }

    /// <summary>The tensor's dimensions, outermost first (empty for a scalar).</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>The number of elements (the product of <see cref="Shape"/>).</summary>
    public int Length { get; }

    /// <summary>
    /// The type of one stored element: <see cref="float"/>, <see cref="double"/>, or a 16-bit type
    /// (<see cref="Kernels.Precision.BFloat16"/>, <see cref="Half"/>) that the optimizers of float rules update in float.
    /// </summary>
    public abstract Type ElementType { get; }

    /// <summary>
    /// Whether the parameter has a gradient for the coming step (PyTorch's <c>p.grad is not None</c>); true unless set.
    /// A parameter without one is left alone as PyTorch leaves a parameter whose <c>grad</c> is <c>None</c>: <c>Step()</c>
    /// changes neither its values nor its state nor its step count, <c>ClipGradNorm</c> and the non-finite check leave its
    /// gradient out, <c>ZeroGrad()</c> skips it, and its gradient memory is not read.
    /// </summary>
    /// <remarks>For bindings to frameworks whose gradients come and go (a tensor's <c>grad</c> before the first backward pass).</remarks>
    public bool HasGrad { get; set; } = true;

    /// <summary>Sets every element of the gradient to zero.</summary>
    public abstract void ZeroGrad();

    /// <inheritdoc/>
    public override string ToString() => $"{Name} [{string.Join(", ", _shape)}] {ElementType.Name}";
}

/// <summary>
/// A trainable tensor whose values and gradient are stored as <typeparamref name="T"/>: <see cref="float"/>,
/// <see cref="double"/>, or 16-bit <see cref="Kernels.Precision.BFloat16"/> or <see cref="Half"/> (the optimizer of a float
/// rule widens them to float, runs the rule, and rounds the new values back; see <see cref="ParameterPrecision"/>).
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class Parameter<T> : Parameter where T : unmanaged
{
    /// <summary>Allocates a parameter of the given shape with zeroed values and gradient.</summary>
    /// <param name="name">The parameter's name.</param>
    /// <param name="shape">Its dimensions.</param>
    public Parameter(string name, params int[] shape)
        : base(name, shape, -1)
    {
        CheckElementType();
        Data = new T[Length];
        Grad = new T[Length];
    }

    /// <summary>Wraps existing memory (a model's weights and gradients, a framework tensor's storage) without copying it.</summary>
    /// <param name="name">The parameter's name.</param>
    /// <param name="data">The values, updated in place by the optimizer.</param>
    /// <param name="grad">The gradient, as long as <paramref name="data"/>; it must not share memory with it.</param>
    /// <param name="shape">Its dimensions; their product must be the memory's length. Omitted: a vector.</param>
    public Parameter(string name, Memory<T> data, Memory<T> grad, params int[] shape)
        : base(name, shape is { Length: > 0 } ? shape : new[] { data.Length }, data.Length)
    {
        CheckElementType();
        if (grad.Length != data.Length)
            throw new ArgumentException($"Parameter '{name}': the gradient holds {grad.Length} elements and the values {data.Length}.", nameof(grad));
        if (data.Length > 0 && data.Span.Overlaps(grad.Span))
            throw new ArgumentException($"Parameter '{name}': the gradient shares memory with the values.", nameof(grad));
        Data = data;
        Grad = grad;
    }

    /// <summary>The values, row-major.</summary>
    public Memory<T> Data { get; }

    /// <summary>The gradient, row-major, as long as <see cref="Data"/>.</summary>
    public Memory<T> Grad { get; }

    /// <inheritdoc/>
    public override Type ElementType => typeof(T);

    /// <inheritdoc/>
    public override void ZeroGrad() => Grad.Span.Clear();

    private static void CheckElementType()
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double) && typeof(T) != typeof(Kernels.Precision.BFloat16) && typeof(T) != typeof(Half))
            throw new NotSupportedException($"Parameters of {typeof(T).Name} are not supported: use float, double, BFloat16 or Half.");
    }
}

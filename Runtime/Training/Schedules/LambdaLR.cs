using System;
using System.Collections.Generic;
using System.Linq;

namespace Kernels.Training.Schedules;

/// <summary>
/// PyTorch's <c>LambdaLR</c>: each group's value is its base value times a factor of the epoch,
/// <c>base · factor(t)</c>.
/// </summary>
/// <remarks>
/// The factor functions are not part of <see cref="LRScheduler.StateDict"/> (PyTorch saves only the attributes of
/// callable objects, never plain functions or lambdas, and a <see cref="Func{T, TResult}"/> cannot be saved at all):
/// build the resumed schedule with the same functions, then load its state.
/// </remarks>
public sealed class LambdaLR : LRScheduler
{
    private readonly Func<int, double>[] _factors;

    /// <summary>Schedules every group with the same factor function.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="factor">The multiplicative factor of epoch <c>t</c> (0 on the constructor's step).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public LambdaLR(IOptimizer optimizer, Func<int, double> factor, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        ArgumentNullException.ThrowIfNull(factor);
        _factors = Enumerable.Repeat(factor, GroupCount).ToArray();
        Initialize();
    }

    /// <summary>Schedules each group with its own factor function.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="factors">One factor function per parameter group.</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public LambdaLR(IOptimizer optimizer, IReadOnlyList<Func<int, double>> factors, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        CheckPerGroup(factors, nameof(factors));
        for (int i = 0; i < factors.Count; i++)
        {
            if (factors[i] is null)
                throw new ArgumentNullException(nameof(factors), $"The factor function of group {i} is null.");
        }
        _factors = factors.ToArray();
        Initialize();
    }

    private protected override double[] ComputeValues() => ForEachGroup(i => Base(i) * _factors[i](LastEpoch));
}

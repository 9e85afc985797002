using System;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>
/// PyTorch's <c>PolynomialLR</c>: decays each group's value to 0 over <see cref="TotalIters"/> epochs as
/// <c>base · (1 - t / total)^power</c>, then leaves it at 0.
/// </summary>
/// <remarks>
/// Recursive, as PyTorch steps it: each step multiplies the current value by
/// <c>((1 - t / total) / (1 - (t - 1) / total))^power</c>.
/// </remarks>
public sealed class PolynomialLR : LRScheduler
{
    /// <summary>Decays over <paramref name="totalIters"/> epochs with the given <paramref name="power"/>.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="totalIters">The number of epochs of the decay (at least 1).</param>
    /// <param name="power">The power of the polynomial (finite, at least 0).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public PolynomialLR(IOptimizer optimizer, int totalIters = 5, double power = 1.0, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Check(totalIters, power, fromState: false);
        TotalIters = totalIters;
        Power = power;
        Initialize();
    }

    /// <summary>The number of epochs of the decay.</summary>
    public int TotalIters { get; private set; }

    /// <summary>The power of the polynomial.</summary>
    public double Power { get; private set; }

    private protected override double[] ComputeValues()
    {
        if (IsInitial || LastEpoch > TotalIters)
            return Unchanged();
        double decayFactor = Math.Pow((1.0 - (double)LastEpoch / TotalIters) / (1.0 - (double)(LastEpoch - 1) / TotalIters), Power);
        return ForEachGroup(i => Current(i) * decayFactor);
    }

    private protected override double[] ComputeClosedFormValues() =>
        ForEachGroup(i => Base(i) * Math.Pow(1.0 - (double)Math.Min(TotalIters, LastEpoch) / TotalIters, Power));

    private protected override void WriteState(JsonObject state)
    {
        state["total_iters"] = TotalIters;
        state["power"] = StateJson.Number(Power);
    }

    private protected override Action ReadState(JsonObject state)
    {
        int totalIters = StateJson.GetInt(state, "total_iters");
        double power = StateJson.GetDouble(state, "power");
        Check(totalIters, power, fromState: true);
        return () => (TotalIters, Power) = (totalIters, power);
    }

    private static void Check(int totalIters, double power, bool fromState)
    {
        Checks.AtLeast(totalIters, 1, nameof(totalIters), fromState ? "total_iters" : null);
        Checks.NonNegative(power, nameof(power), fromState ? "power" : null);
    }
}

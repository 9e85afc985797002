using System;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>How <see cref="BatchSizeWarmup"/> scales the value with the batch size.</summary>
public enum BatchSizeScaling
{
    /// <summary>In proportion to the batch size: <c>base · b / final</c> (the linear scaling rule, Goyal et al. 2017).</summary>
    Linear,

    /// <summary>In proportion to its square root: <c>base · √(b / final)</c> (the rule often used with Adam).</summary>
    SquareRoot,

    /// <summary>Not at all: the value stays at the base; only <see cref="BatchSizeWarmup.BatchSize"/> ramps.</summary>
    None,
}

/// <summary>
/// Batch-size warmup: the batch size ramps linearly from <see cref="StartBatchSize"/> to <see cref="FinalBatchSize"/>
/// over <see cref="WarmupSteps"/> steps (in whole multiples of <see cref="Increment"/>), and each group's value follows
/// it by the linear scaling rule, <c>base · b / final</c>, so the base value is the one meant for the final batch size.
/// </summary>
/// <remarks>
/// Not in PyTorch. At step <c>t</c> the batch size is <c>start + ⌊(final - start) · min(t, N) / N⌋</c>, rounded down
/// to a multiple of the increment above <c>start</c> (Megatron's <c>rampup_batch_size</c> ramps by samples in the same
/// way); read it from <see cref="BatchSize"/> after each <see cref="LRScheduler.Step"/> to size the next batch. Computed as a
/// <see cref="LambdaLR"/> is: <c>base · factor(t)</c>.
/// </remarks>
public sealed class BatchSizeWarmup : LRScheduler
{
    /// <summary>Ramps the batch size, and the value with it.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="startBatchSize">The batch size at step 0 (at least 1).</param>
    /// <param name="finalBatchSize">The batch size from step <paramref name="warmupSteps"/> on (at least <paramref name="startBatchSize"/>).</param>
    /// <param name="warmupSteps">The steps of the ramp (at least 0).</param>
    /// <param name="increment">The batch size grows in whole multiples of this (at least 1).</param>
    /// <param name="scaling">How the value follows the batch size.</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public BatchSizeWarmup(IOptimizer optimizer, int startBatchSize, int finalBatchSize, int warmupSteps, int increment = 1,
        BatchSizeScaling scaling = BatchSizeScaling.Linear, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Check(startBatchSize, finalBatchSize, warmupSteps, increment, scaling, fromState: false);
        (StartBatchSize, FinalBatchSize, WarmupSteps, Increment, Scaling) = (startBatchSize, finalBatchSize, warmupSteps, increment, scaling);
        Initialize();
    }

    /// <summary>The batch size at step 0.</summary>
    public int StartBatchSize { get; private set; }

    /// <summary>The batch size from <see cref="WarmupSteps"/> on.</summary>
    public int FinalBatchSize { get; private set; }

    /// <summary>The steps of the ramp.</summary>
    public int WarmupSteps { get; private set; }

    /// <summary>The batch size grows in whole multiples of this.</summary>
    public int Increment { get; private set; }

    /// <summary>How the value follows the batch size.</summary>
    public BatchSizeScaling Scaling { get; private set; }

    /// <summary>The batch size of the current step (<see cref="LRScheduler.LastEpoch"/>).</summary>
    public int BatchSize => BatchSizeAt(LastEpoch);

    /// <summary>The batch size at step <paramref name="step"/>.</summary>
    /// <param name="step">The step (at least 0).</param>
    /// <returns>The batch size.</returns>
    public int BatchSizeAt(int step)
    {
        step = Math.Max(step, 0);
        if (step >= WarmupSteps)
            return FinalBatchSize;
        long grown = (long)(FinalBatchSize - StartBatchSize) * step / WarmupSteps;
        return StartBatchSize + (int)(grown - grown % Increment);
    }

    /// <summary>The factor on the base value at step <paramref name="step"/>.</summary>
    /// <param name="step">The step (at least 0).</param>
    /// <returns>The factor.</returns>
    public double Factor(int step)
    {
        double ratio = (double)BatchSizeAt(step) / FinalBatchSize;
        return Scaling switch
        {
            BatchSizeScaling.Linear => ratio,
            BatchSizeScaling.SquareRoot => Math.Sqrt(ratio),
            _ => 1.0,
        };
    }

    private protected override double[] ComputeValues()
    {
        double factor = Factor(LastEpoch);
        return ForEachGroup(i => Base(i) * factor);
    }

    private protected override void WriteState(JsonObject state)
    {
        state["start_batch_size"] = StartBatchSize;
        state["final_batch_size"] = FinalBatchSize;
        state["warmup_steps"] = WarmupSteps;
        state["increment"] = Increment;
        state["scaling"] = Scaling.ToString();
        state["batch_size"] = BatchSize;
    }

    private protected override Action ReadState(JsonObject state)
    {
        int start = StateJson.GetInt(state, "start_batch_size");
        int final = StateJson.GetInt(state, "final_batch_size");
        int warmupSteps = StateJson.GetInt(state, "warmup_steps");
        int increment = StateJson.GetInt(state, "increment");
        BatchSizeScaling scaling = Enum.Parse<BatchSizeScaling>(StateJson.GetChoice(state, "scaling", Enum.GetNames<BatchSizeScaling>()));
        Check(start, final, warmupSteps, increment, scaling, fromState: true);
        return () => (StartBatchSize, FinalBatchSize, WarmupSteps, Increment, Scaling) = (start, final, warmupSteps, increment, scaling);
    }

    private static void Check(int startBatchSize, int finalBatchSize, int warmupSteps, int increment, BatchSizeScaling scaling, bool fromState)
    {
        Checks.AtLeast(startBatchSize, 1, nameof(startBatchSize), fromState ? "start_batch_size" : null);
        Checks.AtLeast(finalBatchSize, startBatchSize, nameof(finalBatchSize), fromState ? "final_batch_size" : null);
        Checks.AtLeast(warmupSteps, 0, nameof(warmupSteps), fromState ? "warmup_steps" : null);
        Checks.AtLeast(increment, 1, nameof(increment), fromState ? "increment" : null);
        Checks.Defined(scaling, nameof(scaling), fromState ? "scaling" : null);
    }
}

using System;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>The shape of a ramp of <see cref="WarmupStableDecay"/> (HF's <c>warmup_type</c> / <c>decay_type</c>).</summary>
public enum WsdShape
{
    /// <summary>Linear in the progress <c>p</c> of the ramp: warmup <c>p</c>, decay <c>1 - p</c> (HF's <c>"linear"</c>).</summary>
    Linear,

    /// <summary>
    /// Half a cosine: warmup <c>(1 - cos(π p)) / 2</c>, decay <c>(1 + cos(2π · numCycles · p)) / 2</c> (HF's
    /// <c>"cosine"</c>).
    /// </summary>
    Cosine,

    /// <summary>Warmup <c>1 - √(1 - p)</c>, decay <c>1 - √p</c> (HF's <c>"1-sqrt"</c>, MiniCPM's decay).</summary>
    OneMinusSqrt,
}

/// <summary>
/// Warmup-Stable-Decay (MiniCPM; Hugging Face's <c>get_wsd_schedule</c>): each group's value rises from
/// <c>minRatio · base</c> to its base over <see cref="WarmupSteps"/>, stays there for <see cref="StableSteps"/>, falls back to
/// <c>minRatio · base</c> over <see cref="DecaySteps"/>, and stays at the minimum after.
/// </summary>
/// <remarks>
/// Not in PyTorch; Hugging Face builds it as a <c>LambdaLR</c>, so it is computed as one: <c>base · factor(t)</c>, with the
/// factor as <c>transformers.optimization._get_wsd_scheduler_lambda</c> computes it (a ramp's factor is
/// <c>f · (1 - minRatio) + minRatio</c>, at least 0). With a total step count <c>N</c>, HF's stable phase is
/// <c>N - warmup - decay</c> steps.
/// </remarks>
public sealed class WarmupStableDecay : LRScheduler
{
    /// <summary>Warms up, holds and decays each group's value.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="warmupSteps">The steps of the warmup (at least 0).</param>
    /// <param name="stableSteps">The steps at the base value (at least 0).</param>
    /// <param name="decaySteps">The steps of the decay (at least 0).</param>
    /// <param name="decay">The shape of the decay.</param>
    /// <param name="minRatio">The start and end value as a share of the base, from 0 to 1 (HF's <c>min_lr_ratio</c>).</param>
    /// <param name="warmup">The shape of the warmup.</param>
    /// <param name="numCycles">The number of cosine waves of a <see cref="WsdShape.Cosine"/> decay (0.5: half a wave, down to the minimum; finite, at least 0).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public WarmupStableDecay(IOptimizer optimizer, int warmupSteps, int stableSteps, int decaySteps, WsdShape decay = WsdShape.Cosine, double minRatio = 0,
        WsdShape warmup = WsdShape.Linear, double numCycles = 0.5, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Check(warmupSteps, stableSteps, decaySteps, decay, minRatio, warmup, numCycles, fromState: false);
        (WarmupSteps, StableSteps, DecaySteps, Decay, MinRatio, Warmup, NumCycles) = (warmupSteps, stableSteps, decaySteps, decay, minRatio, warmup, numCycles);
        Initialize();
    }

    /// <summary>The steps of the warmup.</summary>
    public int WarmupSteps { get; private set; }

    /// <summary>The steps at the base value.</summary>
    public int StableSteps { get; private set; }

    /// <summary>The steps of the decay.</summary>
    public int DecaySteps { get; private set; }

    /// <summary>The shape of the decay.</summary>
    public WsdShape Decay { get; private set; }

    /// <summary>The start and end value as a share of the base.</summary>
    public double MinRatio { get; private set; }

    /// <summary>The shape of the warmup.</summary>
    public WsdShape Warmup { get; private set; }

    /// <summary>The number of cosine waves of a cosine decay.</summary>
    public double NumCycles { get; private set; }

    /// <summary>The factor on the base value at step <paramref name="step"/> (HF's <c>lr_lambda</c>).</summary>
    /// <param name="step">The step (PyTorch's <c>last_epoch</c>).</param>
    /// <returns>The factor.</returns>
    public double Factor(int step)
    {
        long warmup = WarmupSteps, stable = StableSteps, decay = DecaySteps;
        double factor;
        if (step < warmup)
        {
            double progress = (double)step / Math.Max(1, warmup);
            factor = Warmup switch
            {
                WsdShape.Linear => progress,
                WsdShape.Cosine => 0.5 * (1.0 - Math.Cos(Math.PI * progress)),
                _ => 1.0 - Math.Sqrt(1.0 - progress),
            };
        }
        else if (step < warmup + stable)
        {
            return 1.0;
        }
        else if (step < warmup + stable + decay)
        {
            double progress = (double)(step - warmup - stable) / Math.Max(1, decay);
            factor = Decay switch
            {
                WsdShape.Linear => 1.0 - progress,
                WsdShape.Cosine => 0.5 * (1.0 + Math.Cos(Math.PI * NumCycles * 2.0 * progress)),
                _ => 1.0 - Math.Sqrt(progress),
            };
        }
        else
        {
            return MinRatio;
        }
        factor = factor * (1.0 - MinRatio) + MinRatio;
        return factor > 0.0 ? factor : 0.0; // Python's max(0.0, factor)
    }

    private protected override double[] ComputeValues()
    {
        double factor = Factor(LastEpoch);
        return ForEachGroup(i => Base(i) * factor);
    }

    private protected override void WriteState(JsonObject state)
    {
        state["num_warmup_steps"] = WarmupSteps;
        state["num_stable_steps"] = StableSteps;
        state["num_decay_steps"] = DecaySteps;
        state["warmup_type"] = Name(Warmup);
        state["decay_type"] = Name(Decay);
        state["min_lr_ratio"] = StateJson.Number(MinRatio);
        state["num_cycles"] = StateJson.Number(NumCycles);
    }

    private protected override Action ReadState(JsonObject state)
    {
        int warmupSteps = StateJson.GetInt(state, "num_warmup_steps");
        int stableSteps = StateJson.GetInt(state, "num_stable_steps");
        int decaySteps = StateJson.GetInt(state, "num_decay_steps");
        WsdShape warmup = Parse(StateJson.GetChoice(state, "warmup_type", "linear", "cosine", "1-sqrt"));
        WsdShape decay = Parse(StateJson.GetChoice(state, "decay_type", "linear", "cosine", "1-sqrt"));
        double minRatio = StateJson.GetDouble(state, "min_lr_ratio");
        double numCycles = StateJson.GetDouble(state, "num_cycles");
        Check(warmupSteps, stableSteps, decaySteps, decay, minRatio, warmup, numCycles, fromState: true);
        return () => (WarmupSteps, StableSteps, DecaySteps, Decay, MinRatio, Warmup, NumCycles) = (warmupSteps, stableSteps, decaySteps, decay, minRatio, warmup, numCycles);
    }

    private static string Name(WsdShape shape) => shape switch
    {
        WsdShape.Linear => "linear",
        WsdShape.Cosine => "cosine",
        _ => "1-sqrt",
    };

    private static WsdShape Parse(string name) => name switch
    {
        "linear" => WsdShape.Linear,
        "cosine" => WsdShape.Cosine,
        _ => WsdShape.OneMinusSqrt,
    };

    private static void Check(int warmupSteps, int stableSteps, int decaySteps, WsdShape decay, double minRatio, WsdShape warmup, double numCycles, bool fromState)
    {
        Checks.AtLeast(warmupSteps, 0, nameof(warmupSteps), fromState ? "num_warmup_steps" : null);
        Checks.AtLeast(stableSteps, 0, nameof(stableSteps), fromState ? "num_stable_steps" : null);
        Checks.AtLeast(decaySteps, 0, nameof(decaySteps), fromState ? "num_decay_steps" : null);
        Checks.Defined(decay, nameof(decay), fromState ? "decay_type" : null);
        Checks.InRange(minRatio, 0, 1, nameof(minRatio), fromState ? "min_lr_ratio" : null);
        Checks.Defined(warmup, nameof(warmup), fromState ? "warmup_type" : null);
        Checks.NonNegative(numCycles, nameof(numCycles), fromState ? "num_cycles" : null);
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json.Nodes;
using Kernels.Training.Schedules;

namespace Kernels.Training;

/// <summary>
/// Dynamic loss scaling for fp16 training, as PyTorch's <c>torch.amp.GradScaler</c>: the loss is multiplied by a scale
/// (<see cref="Scale(float)"/>) so small fp16 gradients do not flush to zero; the optimizer step divides it out; a step
/// whose gradients overflowed (inf or NaN) is skipped and the scale backed off; after
/// <see cref="GrowthInterval"/> clean steps in a row the scale grows.
/// </summary>
/// <remarks>
/// <para>
/// The loop is PyTorch's: <c>backward(scaler.Scale(loss))</c>; optionally <see cref="Unscale"/> then
/// <see cref="Optimizer.ClipGradNorm"/>; <see cref="Step"/>; <see cref="Update"/>. Unscaling rewrites no gradient: it arms
/// the optimizer's next step with <c>1 / scale</c>, applied (with the clip coefficient) as each gradient element is loaded,
/// in float, and <see cref="Optimizer.ClipGradNorm"/> measures the unscaled norm. So fp16 gradients are unscaled in fp32,
/// where PyTorch refuses to unscale fp16 gradients in place.
/// </para>
/// <para>
/// The scale is a float, updated as PyTorch's <c>_amp_update_scale_</c> does: on an overflow
/// <c>scale = (float)(scale · backoffFactor)</c> and the growth tracker restarts; otherwise the tracker counts the step, and
/// when it reaches <see cref="GrowthInterval"/> <c>scale = (float)(scale · growthFactor)</c> if that is finite, and the
/// tracker restarts. Its state (<see cref="StateDict"/>: scale, factors, interval, tracker) goes into checkpoints as a
/// schedule's does (<see cref="ISchedule"/>).
/// </para>
/// </remarks>
public sealed class GradScaler : ISchedule
{
    private enum Stage { Ready, Unscaled, Stepped }

    private readonly Dictionary<Optimizer, (Stage Stage, bool FoundInf)> _perOptimizer = new(ReferenceEqualityComparer.Instance);
    private float _scale;

    /// <summary>Creates a scaler with PyTorch's defaults.</summary>
    /// <param name="initScale">The first scale (PyTorch: 2^16); positive and finite.</param>
    /// <param name="growthFactor">What the scale is multiplied by after <paramref name="growthInterval"/> clean steps; more than 1.</param>
    /// <param name="backoffFactor">What the scale is multiplied by after an overflow; between 0 and 1, exclusive.</param>
    /// <param name="growthInterval">Clean steps in a row before the scale grows; positive.</param>
    /// <param name="enabled">False: every method passes through (no scaling, no skipping), as PyTorch's <c>enabled=False</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument out of its range (named by the exception).</exception>
    public GradScaler(double initScale = 65536.0, double growthFactor = 2.0, double backoffFactor = 0.5, int growthInterval = 2000, bool enabled = true)
    {
        if (!(initScale > 0) || !float.IsFinite((float)initScale))
            throw new ArgumentOutOfRangeException(nameof(initScale), initScale, "The initial scale must be positive and finite as a float.");
        if (!(growthFactor > 1) || double.IsInfinity(growthFactor))
            throw new ArgumentOutOfRangeException(nameof(growthFactor), growthFactor, "The growth factor must be more than 1 and finite.");
        if (!(backoffFactor > 0 && backoffFactor < 1))
            throw new ArgumentOutOfRangeException(nameof(backoffFactor), backoffFactor, "The backoff factor must be between 0 and 1, exclusive.");
        if (growthInterval <= 0)
            throw new ArgumentOutOfRangeException(nameof(growthInterval), growthInterval, "The growth interval must be positive.");
        _scale = (float)initScale;
        GrowthFactor = growthFactor;
        BackoffFactor = backoffFactor;
        GrowthInterval = growthInterval;
        IsEnabled = enabled;
    }

    /// <summary>Whether the scaler scales (PyTorch's <c>is_enabled()</c>).</summary>
    public bool IsEnabled { get; }

    /// <summary>The current scale (PyTorch's <c>get_scale()</c>); 1 when disabled.</summary>
    public float CurrentScale => IsEnabled ? _scale : 1f;

    /// <summary>The factor the scale grows by.</summary>
    public double GrowthFactor { get; private set; }

    /// <summary>The factor the scale backs off by.</summary>
    public double BackoffFactor { get; private set; }

    /// <summary>Clean steps in a row before the scale grows.</summary>
    public int GrowthInterval { get; private set; }

    /// <summary>Clean steps in a row since the scale last changed (PyTorch's <c>_growth_tracker</c>).</summary>
    public int GrowthTracker { get; private set; }

    /// <summary>The loss times the scale (the value to back-propagate from); the loss itself when disabled.</summary>
    /// <param name="loss">The loss.</param>
    /// <returns><c>loss · scale</c> in float.</returns>
    public float Scale(float loss) => IsEnabled ? loss * _scale : loss;

    /// <summary>The loss times the scale, in double.</summary>
    /// <param name="loss">The loss.</param>
    /// <returns><c>loss · scale</c>.</returns>
    public double Scale(double loss) => IsEnabled ? loss * _scale : loss;

    /// <summary>
    /// Divides the scale out of <paramref name="optimizer"/>'s gradients (PyTorch's <c>unscale_</c>), fused into its next
    /// step, and checks them for inf and NaN (one read of the gradients); an overflow arms the step to be skipped. Call it
    /// before <see cref="Optimizer.ClipGradNorm"/>, which then clips the unscaled gradients; otherwise <see cref="Step"/>
    /// calls it.
    /// </summary>
    /// <param name="optimizer">The optimizer whose gradients came from the scaled loss.</param>
    /// <exception cref="InvalidOperationException">Called twice for the optimizer since the last <see cref="Update"/>, or after <see cref="Step"/>.</exception>
    public void Unscale(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!IsEnabled)
            return;
        Stage stage = StageOf(optimizer);
        if (stage == Stage.Unscaled)
            throw new InvalidOperationException("Unscale() has already been called on this optimizer since the last Update().");
        if (stage == Stage.Stepped)
            throw new InvalidOperationException("Unscale() is being called after Step().");
        // PyTorch: inv_scale = scale.double().reciprocal().float().
        float inverse = (float)(1.0 / _scale);
        bool foundInf = !optimizer.GradientsAreFinite();
        optimizer.SetPendingUnscale(inverse, foundInf);
        _perOptimizer[optimizer] = (Stage.Unscaled, foundInf);
    }

    /// <summary>
    /// Steps <paramref name="optimizer"/> unless its gradients overflowed (PyTorch's <c>scaler.step</c>): unscales them first
    /// if <see cref="Unscale"/> was not called; on inf or NaN the update is skipped (<see cref="Optimizer.LastStepSkipped"/>).
    /// </summary>
    /// <param name="optimizer">The optimizer.</param>
    /// <returns>Whether the optimizer updated its parameters.</returns>
    /// <exception cref="InvalidOperationException">Called twice for the optimizer since the last <see cref="Update"/>.</exception>
    public bool Step(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!IsEnabled)
        {
            optimizer.Step();
            return !optimizer.LastStepSkipped;
        }
        if (StageOf(optimizer) == Stage.Stepped)
            throw new InvalidOperationException("Step() has already been called since the last Update().");
        if (StageOf(optimizer) == Stage.Ready)
            Unscale(optimizer);
        bool foundInf = _perOptimizer[optimizer].FoundInf;
        optimizer.Step();   // skipped by the optimizer itself when the unscale found inf or NaN
        _perOptimizer[optimizer] = (Stage.Stepped, foundInf);
        return !optimizer.LastStepSkipped;
    }

    /// <summary>
    /// Updates the scale after the iteration's steps (PyTorch's <c>update</c>): backs off if any optimizer's gradients
    /// overflowed, else counts a clean step and grows the scale every <see cref="GrowthInterval"/> of them; or sets
    /// <paramref name="newScale"/>.
    /// </summary>
    /// <param name="newScale">A scale to set instead (the growth tracker is left as it is, as in PyTorch); positive and finite.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="newScale"/> is not positive and finite.</exception>
    /// <exception cref="InvalidOperationException">No optimizer was unscaled or stepped since the last update (PyTorch: "No inf checks were recorded").</exception>
    public void Update(float? newScale = null)
    {
        if (!IsEnabled)
            return;
        if (newScale is { } set)
        {
            if (!(set > 0) || !float.IsFinite(set))
                throw new ArgumentOutOfRangeException(nameof(newScale), set, "The new scale must be positive and finite.");
            _scale = set;
        }
        else
        {
            if (_perOptimizer.Count == 0)
                throw new InvalidOperationException("No inf checks were recorded prior to Update(): call Unscale() or Step() first.");
            bool foundInf = false;
            foreach ((Stage _, bool inf) in _perOptimizer.Values)
                foundInf |= inf;
            if (foundInf)
            {
                _scale = (float)(_scale * BackoffFactor);
                GrowthTracker = 0;
            }
            else if (GrowthTracker + 1 == GrowthInterval)
            {
                float grown = (float)(_scale * GrowthFactor);
                if (float.IsFinite(grown))
                    _scale = grown;
                GrowthTracker = 0;
            }
            else
            {
                GrowthTracker++;
            }
        }
        _perOptimizer.Clear();
    }

    private Stage StageOf(Optimizer optimizer) => _perOptimizer.TryGetValue(optimizer, out var s) ? s.Stage : Stage.Ready;

    /// <summary>The scaler's state, in PyTorch's keys (<c>scale</c>, <c>growth_factor</c>, <c>backoff_factor</c>, <c>growth_interval</c>, <c>_growth_tracker</c>).</summary>
    public JsonObject StateDict() => new()
    {
        ["scale"] = (double)_scale,
        ["growth_factor"] = GrowthFactor,
        ["backoff_factor"] = BackoffFactor,
        ["growth_interval"] = GrowthInterval,
        ["_growth_tracker"] = GrowthTracker,
    };

    /// <summary>Restores a state from <see cref="StateDict"/>; checked first, nothing changes on a mismatch.</summary>
    /// <param name="state">The state.</param>
    /// <exception cref="ArgumentException">A key is missing or a value out of range.</exception>
    public void LoadStateDict(JsonObject state)
    {
        ArgumentNullException.ThrowIfNull(state);
        // A parsed state holds JSON numbers, a built one .NET ints and doubles: read either through the number's text.
        double Read(string key) => state[key] is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number
            && double.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
            ? d
            : throw new ArgumentException($"The GradScaler state has no number '{key}'.", nameof(state));
        double scale = Read("scale"), growth = Read("growth_factor"), backoff = Read("backoff_factor"), interval = Read("growth_interval"), tracker = Read("_growth_tracker");
        if (!(scale > 0) || !float.IsFinite((float)scale) || !(growth > 1) || !(backoff > 0 && backoff < 1)
            || interval != Math.Floor(interval) || !(interval >= 1 && interval <= int.MaxValue) || tracker != Math.Floor(tracker) || !(tracker >= 0 && tracker < interval))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The GradScaler state is out of range (scale {scale}, growth {growth}, backoff {backoff}, interval {interval}, tracker {tracker})."), nameof(state));
        _scale = (float)scale;
        GrowthFactor = growth;
        BackoffFactor = backoff;
        GrowthInterval = (int)interval;
        GrowthTracker = (int)tracker;
        _perOptimizer.Clear();
    }
}

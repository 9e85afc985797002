using System;
using System.Linq;
using System.Text.Json.Nodes;
using Kernels.Optimizers;
using Kernels.Training;
using Xunit;

namespace Kernels.Tests.Training;

/// <summary>
/// <see cref="GradScaler"/> against PyTorch's <c>torch.amp.GradScaler</c>: the scale sequence of a scripted run of clean and
/// overflowing steps (hand-derived values, and a transcription of <c>_amp_update_scale_</c>'s kernel written from its
/// source), skipped steps leave parameters and state alone, growth that would overflow float is not applied, the
/// call-order errors PyTorch raises, disabled pass-through, and argument errors named by argument.
/// </summary>
public sealed class GradScalerTests
{
    /// <summary>
    /// PyTorch's <c>_amp_update_scale_cuda_kernel</c> (aten/src/ATen/native/cuda/AmpKernels.cu), transcribed:
    /// <c>if (*found_inf) { *current_scale = (*current_scale)*backoff_factor; *growth_tracker = 0; } else { auto successful =
    /// (*growth_tracker)+1; if (successful == growth_interval) { auto new_scale = static_cast&lt;float&gt;((*current_scale)*growth_factor);
    /// if (isfinite(new_scale)) *current_scale = new_scale; *growth_tracker = 0; } else { *growth_tracker = successful; } }</c>.
    /// </summary>
    private static (float Scale, int Tracker) PyTorchUpdate(float currentScale, int growthTracker, bool foundInf, double growthFactor, double backoffFactor, int growthInterval)
    {
        if (foundInf)
            return ((float)(currentScale * backoffFactor), 0);
        int successful = growthTracker + 1;
        if (successful == growthInterval)
        {
            float newScale = (float)(currentScale * growthFactor);
            return (float.IsFinite(newScale) ? newScale : currentScale, 0);
        }
        return (currentScale, successful);
    }

    private static Parameter<Half> Weights()
    {
        var p = new Parameter<Half>("w", 64);
        for (int i = 0; i < 64; i++)
            p.Data.Span[i] = (Half)(0.01f * (i - 32));
        return p;
    }

    [Fact]
    public void ScriptedRun_SkipsOverflowingSteps_BacksOffAndGrows_AsPyTorch()
    {
        bool[] overflow = { false, false, true, false, false, false, false, true, true, false, false, false };
        // Hand-derived with init 65536, growth 2, backoff 0.5, interval 3: the scale after each update.
        float[] expected = { 65536, 65536, 32768, 32768, 32768, 65536, 65536, 32768, 16384, 16384, 16384, 32768 };
        Parameter<Half> w = Weights();
        var optimizer = new AdamW.Optimizer(new[] { w }, lr: 1e-2);
        var scaler = new GradScaler(growthInterval: 3);
        (float scale, int tracker) reference = (65536f, 0);
        int clean = 0;
        for (int t = 0; t < overflow.Length; t++)
        {
            for (int i = 0; i < 64; i++)
                w.Grad.Span[i] = (Half)(scaler.Scale(1e-4f) * (i % 5 - 2));   // the backward pass of the scaled loss
            if (overflow[t])
                w.Grad.Span[7] = Half.PositiveInfinity;
            Half[] before = w.Data.ToArray();
            bool stepped = scaler.Step(optimizer);
            scaler.Update();
            reference = PyTorchUpdate(reference.scale, reference.tracker, overflow[t], 2, 0.5, 3);

            Assert.Equal(!overflow[t], stepped);
            Assert.Equal(overflow[t], optimizer.LastStepSkipped);
            if (overflow[t])
                Assert.Equal(before, w.Data.ToArray());
            else
                Assert.NotEqual(before, w.Data.ToArray());
            clean += overflow[t] ? 0 : 1;
            Assert.Equal(expected[t], scaler.CurrentScale);
            Assert.Equal(reference.scale, scaler.CurrentScale);
            Assert.Equal(reference.tracker, scaler.GrowthTracker);
        }
        Assert.Equal(overflow.Count(o => o), optimizer.SkippedSteps);
        Assert.Equal(clean, optimizer.StateDict().State[0]!.Step);   // a skipped step is not counted
    }

    [Fact]
    public void Growth_ThatWouldOverflowFloat_IsNotApplied()
    {
        float big = MathF.ScaleB(1f, 127);
        Parameter<Half> w = Weights();
        var optimizer = new SGD.Optimizer(new[] { w }, lr: 0);
        var scaler = new GradScaler(initScale: big, growthInterval: 1);
        scaler.Step(optimizer);
        scaler.Update();
        Assert.Equal(big, scaler.CurrentScale);   // 2^128 is +inf in float: kept at 2^127
        Assert.Equal(0, scaler.GrowthTracker);
    }

    [Fact]
    public void Scale_MultipliesTheLoss_Unscale_FeedsTheInverseIntoTheStep()
    {
        var scaler = new GradScaler();
        Assert.Equal(2.5f * 65536f, scaler.Scale(2.5f));
        Assert.Equal(0.25 * 65536.0, scaler.Scale(0.25));

        // Gradients scaled by 2^16 and unscaled by the step give the update of the unscaled gradients (exact: a power of two).
        Parameter<float> a = new("a", 8), b = new("b", 8);
        for (int i = 0; i < 8; i++)
        {
            a.Data.Span[i] = b.Data.Span[i] = 0.1f * i;
            a.Grad.Span[i] = (i - 4) * 0.5f;
            b.Grad.Span[i] = scaler.Scale((i - 4) * 0.5f);
        }
        var plain = new AdamW.Optimizer(new[] { a }, lr: 0.1);
        var scaled = new AdamW.Optimizer(new[] { b }, lr: 0.1);
        plain.Step();
        scaler.Step(scaled);
        Assert.Equal(a.Data.ToArray(), b.Data.ToArray());
    }

    [Fact]
    public void CallOrder_IsCheckedAsInPyTorch()
    {
        var optimizer = new SGD.Optimizer(new[] { Weights() }, lr: 0.1);
        var scaler = new GradScaler();
        Assert.Throws<InvalidOperationException>(() => scaler.Update());   // no inf checks recorded
        scaler.Unscale(optimizer);
        Assert.Throws<InvalidOperationException>(() => scaler.Unscale(optimizer));
        scaler.Step(optimizer);
        Assert.Throws<InvalidOperationException>(() => scaler.Step(optimizer));
        Assert.Throws<InvalidOperationException>(() => scaler.Unscale(optimizer));
        scaler.Update();
        scaler.Step(optimizer);   // a new iteration
        scaler.Update();
    }

    [Fact]
    public void Disabled_PassesThrough()
    {
        Parameter<Half> w = Weights();
        w.Grad.Span.Fill(Half.PositiveInfinity);
        var optimizer = new SGD.Optimizer(new[] { w }, lr: 0.1);
        var scaler = new GradScaler(enabled: false);
        Assert.Equal(3f, scaler.Scale(3f));
        Assert.Equal(1f, scaler.CurrentScale);
        Assert.True(scaler.Step(optimizer));   // no inf check when disabled, as in PyTorch
        scaler.Update();
        Assert.True(Half.IsNaN(w.Data.Span[40]) || Half.IsInfinity(w.Data.Span[40]));
    }

    [Fact]
    public void StateDict_RoundTrips_AndARejectedStateChangesNothing()
    {
        var scaler = new GradScaler(initScale: 1024, growthFactor: 4, backoffFactor: 0.25, growthInterval: 5);
        var optimizer = new SGD.Optimizer(new[] { Weights() }, lr: 0.1);
        scaler.Step(optimizer);
        scaler.Update();
        JsonObject state = scaler.StateDict();
        Assert.Equal(1024.0, (double)state["scale"]!);
        Assert.Equal(1, (int)state["_growth_tracker"]!);

        var other = new GradScaler();
        other.LoadStateDict(state);
        Assert.Equal(1024f, other.CurrentScale);
        Assert.Equal(4, other.GrowthFactor);
        Assert.Equal(0.25, other.BackoffFactor);
        Assert.Equal(5, other.GrowthInterval);
        Assert.Equal(1, other.GrowthTracker);

        var bad = (JsonObject)state.DeepClone();
        bad["backoff_factor"] = 2.0;
        var e = Assert.Throws<ArgumentException>(() => other.LoadStateDict(bad));
        Assert.Equal("state", e.ParamName);
        bad.Remove("scale");
        Assert.Throws<ArgumentException>(() => other.LoadStateDict(bad));
        Assert.Equal(1024f, other.CurrentScale);
        Assert.Equal(0.25, other.BackoffFactor);
    }

    [Theory]
    [InlineData("initScale", 0.0, 2.0, 0.5, 2000)]
    [InlineData("initScale", -1.0, 2.0, 0.5, 2000)]
    [InlineData("initScale", double.NaN, 2.0, 0.5, 2000)]
    [InlineData("initScale", 1e39, 2.0, 0.5, 2000)]
    [InlineData("growthFactor", 65536.0, 1.0, 0.5, 2000)]
    [InlineData("growthFactor", 65536.0, double.NaN, 0.5, 2000)]
    [InlineData("backoffFactor", 65536.0, 2.0, 1.0, 2000)]
    [InlineData("backoffFactor", 65536.0, 2.0, 0.0, 2000)]
    [InlineData("growthInterval", 65536.0, 2.0, 0.5, 0)]
    public void Arguments_OutOfRange_AreNamed(string name, double initScale, double growthFactor, double backoffFactor, int growthInterval)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new GradScaler(initScale, growthFactor, backoffFactor, growthInterval));
        Assert.Equal(name, e.ParamName);
    }

    [Fact]
    public void Update_WithANewScale_ChecksIt()
    {
        var scaler = new GradScaler();
        Assert.Equal("newScale", Assert.Throws<ArgumentOutOfRangeException>(() => scaler.Update(0f)).ParamName);
        Assert.Equal("newScale", Assert.Throws<ArgumentOutOfRangeException>(() => scaler.Update(float.PositiveInfinity)).ParamName);
        scaler.Update(8f);
        Assert.Equal(8f, scaler.CurrentScale);
        Assert.Throws<ArgumentNullException>(() => scaler.Step(null!));
    }
}

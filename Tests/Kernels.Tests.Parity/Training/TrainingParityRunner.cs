using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using Kernels.Tests.Parity.Harness;
using Kernels.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using KOptimizer = Kernels.Training.Optimizer;
using TSParameter = TorchSharp.Modules.Parameter;

namespace Kernels.Tests.Parity.Training;

/// <summary>Builds one of our optimizer objects over parameter groups, every hyperparameter set by name.</summary>
public sealed class OursFactory
{
    private readonly Func<IReadOnlyList<Parameter<float>[]>, IReadOnlyList<IReadOnlyDictionary<string, double>>?, KOptimizer> _create;

    private OursFactory(Func<IReadOnlyList<Parameter<float>[]>, IReadOnlyList<IReadOnlyDictionary<string, double>>?, KOptimizer> create) => _create = create;

    /// <summary>
    /// The generated optimizer whose constructor is <paramref name="constructor"/> (over the first group): the first
    /// group's hyperparameters are then set through <c>optimizer.ParamGroups[0][name]</c>, later groups are added with
    /// <c>AddParamGroup(params, options =&gt; options[name] = value)</c>, both by PyTorch's snake_case names.
    /// </summary>
    public static OursFactory Of<TOptions>(Func<IEnumerable<Parameter<float>>, Optimizer<float, TOptions>> constructor)
        where TOptions : Hyperparameters
        => new((groups, hyper) =>
        {
            Optimizer<float, TOptions> optimizer = constructor(groups[0]);
            if (hyper is not null)
            {
                foreach ((string name, double value) in hyper[0])
                    optimizer.ParamGroups[0][name] = value;
            }
            for (int g = 1; g < groups.Count; g++)
            {
                IReadOnlyDictionary<string, double>? h = hyper?[g];
                optimizer.AddParamGroup(groups[g], h is null ? null : options =>
                {
                    foreach ((string name, double value) in h)
                        options[name] = value;
                });
            }
            return optimizer;
        });

    /// <summary>Creates the optimizer; with <paramref name="hyperparameters"/> <see langword="null"/>, every group keeps the constructor's defaults.</summary>
    public KOptimizer Create(IReadOnlyList<Parameter<float>[]> groups, IReadOnlyList<IReadOnlyDictionary<string, double>>? hyperparameters)
        => _create(groups, hyperparameters);
}

/// <summary>One optimizer configuration of the training-loop parity suite.</summary>
public sealed class OptimizerScenario
{
    /// <summary>Optimizer name and configuration, for messages.</summary>
    public required string Name { get; init; }

    /// <summary>
    /// Each group's hyperparameters by PyTorch's names (booleans as 0 or 1), given in full: every hyperparameter our
    /// group has must be here, so that no side silently falls back to a default of its own (TorchSharp's AdamW
    /// defaults to weight_decay 0, PyTorch's and ours to 1e-2).
    /// </summary>
    public required IReadOnlyList<IReadOnlyDictionary<string, double>> Groups { get; init; }

    /// <summary>Our optimizer.</summary>
    public required OursFactory Ours { get; init; }

    /// <summary>The libtorch-op reference: PyTorch's single-tensor step.</summary>
    public required ReferenceStep Reference { get; init; }

    /// <summary>Tolerance against <see cref="Reference"/> when both sides clip with their own norm (torch's <c>clip_grad_norm_</c> on the reference's side).</summary>
    public required Tolerance ReferenceTolerance { get; init; }

    /// <summary>TorchSharp's optimizer class over the groups (parameters, hyperparameters by PyTorch's names), where it implements PyTorch's algorithm for this configuration.</summary>
    public Func<IReadOnlyList<(TSParameter[] Parameters, IReadOnlyDictionary<string, double> H)>, TorchSharp.Modules.OptimizerHelper>? TorchSharp { get; init; }

    /// <summary>Tolerance against <see cref="TorchSharp"/>.</summary>
    public Tolerance TorchSharpTolerance { get; init; } = Tolerance.Float32;

    /// <summary>Why TorchSharp's class is absent, or how it differs from PyTorch.</summary>
    public string? TorchSharpNote { get; init; }

    /// <summary>The learning-rate schedule (base lrs: each group's <c>lr</c>): warmup then cosine unless a scenario says otherwise.</summary>
    public Func<IReadOnlyList<double>, int, ILrScheduleDriver> Schedule { get; init; } = (lrs, steps) => new WarmupCosineSchedule(lrs, steps);

    /// <summary>Seed of the initial values and gradients.</summary>
    public int Seed { get; init; } = 2024;

    /// <summary>What a reader of the report or of a failure should know (a known difference, a library bug).</summary>
    public string? Note { get; init; }
}

/// <summary>How the reference side clips.</summary>
public enum ClipMode
{
    /// <summary>
    /// The reference scales its gradients by the coefficient our optimizer uses (from the norm our
    /// <c>ClipGradNorm</c> returned) and takes a correctly rounded sqrt: then every value must be bit-identical, which
    /// checks the bookkeeping (groups, per-group hyperparameters, schedule, step counts, lazy state, the state-dict
    /// round trip) exactly.
    /// </summary>
    SameCoefficient,

    /// <summary>
    /// Each side clips on its own (<c>torch.nn.utils.clip_grad_norm_</c>: a float32 norm) and the reference uses
    /// libtorch's own sqrt; TorchSharp's optimizer class runs alongside. Compared within the scenario's tolerances.
    /// </summary>
    TorchClip,
}

/// <summary>
/// A 300-step training loop run by our optimizer object and by PyTorch's algorithm side by side: two parameter groups
/// with different hyperparameters over three tensors of different shapes, global-norm clipping before every step, a
/// learning-rate schedule, pseudo-random gradients, and halfway a state-dict round trip into a fresh optimizer over
/// fresh parameters. Parameters, state buffers, per-tensor state and step counts are compared after every step.
/// </summary>
public static class TrainingParityRunner
{
    /// <summary>The tensors: a weight, a bias and a 3-d kernel; the first two are group 0, the third group 1.</summary>
    public static readonly int[][] Shapes = { new[] { 16, 8 }, new[] { 8 }, new[] { 4, 3, 2 } };

    /// <summary>Which tensors each group holds.</summary>
    public static readonly int[][] GroupMembers = { new[] { 0, 1 }, new[] { 2 } };

    /// <summary>Standard deviation of each tensor's gradient before the per-step factor.</summary>
    private static readonly double[] GradientScales = { 1.0, 1.5, 2.0 };

    /// <summary>Steps per run.</summary>
    public const int Steps = 300;

    /// <summary>The step after which our optimizer (and TorchSharp's) goes through a state-dict round trip.</summary>
    public const int ResumeAfter = 150;

    /// <summary>
    /// The clip threshold. The gradients' global norm is about 15.6 times a log-normal per-step factor
    /// (exp(0.5 z)), so about two thirds of the steps clip (193 of 300 with the default seed; the runner checks that
    /// at least half do, and not all but a few, so that the unclipped path runs too).
    /// </summary>
    public const double MaxNorm = 12.0;

    /// <summary>Steps whose differences the report lists one by one.</summary>
    public static readonly int[] Checkpoints = { 1, 10, 50, 100, ResumeAfter, ResumeAfter + 1, 200, 250, Steps };

    private static readonly string[] TensorNames = { "weight", "bias", "kernel" };

    /// <summary>Runs the scenario in <paramref name="mode"/> and asserts.</summary>
    public static void Run(OptimizerScenario scenario, ClipMode mode, ITestOutputHelper output)
    {
        Assert.Equal(GroupMembers.Length, scenario.Groups.Count);
        var report = new StringBuilder();
        var failures = new List<string>();
        bool savedSqrt = TorchOps.CorrectlyRoundedSqrt;
        TorchOps.CorrectlyRoundedSqrt = mode == ClipMode.SameCoefficient;
        try
        {
            NoGc.Run(() => RunCore(scenario, mode, report, failures));
        }
        finally
        {
            TorchOps.CorrectlyRoundedSqrt = savedSqrt;
        }
        output.WriteLine(report.ToString());
        Assert.True(failures.Count == 0, $"{scenario.Name} [{mode}]:" + (scenario.Note is null ? "" : $" ({scenario.Note})") + "\n" + string.Join("\n", failures));
    }

    private static void RunCore(OptimizerScenario scenario, ClipMode mode, StringBuilder report, List<string> failures)
    {
        var random = new Random(scenario.Seed);
        float[][] initial = Shapes.Select(s => ParityRunner.Normal(random, Length(s), 0.5, zeros: false)).ToArray();
        Tolerance referenceTolerance = mode == ClipMode.SameCoefficient ? new Tolerance(0, 0) : scenario.ReferenceTolerance;

        // Ours.
        Parameter<float>[] ours = NewParameters(initial);
        KOptimizer optimizer = scenario.Ours.Create(Grouped(ours), scenario.Groups);
        CheckEveryHyperparameterGiven(optimizer, scenario, failures);
        KOptimizer? uninterrupted = null;
        Parameter<float>[]? uninterruptedParameters = null;

        // The libtorch-op reference.
        TSParameter[] referenceParameters = NewTorchParameters(initial);
        using var reference = new TorchReferenceOptimizer(
            Grouped(referenceParameters).Zip(scenario.Groups, (p, h) => (p, h)), scenario.Reference);

        ILrScheduleDriver schedule = scenario.Schedule(scenario.Groups.Select(h => h["lr"]).ToArray(), Steps);
        schedule.BeforeStep(1, new LrTargets(new[] { optimizer }, reference, null));

        // TorchSharp's class. It creates its state when a group is added (PyTorch: on the first step), which for
        // Rprop's step_size and ASGD's eta reads the lr then: built with the lr the schedule gives the first step.
        TSParameter[]? torchSharpParameters = null;
        TorchSharp.Modules.OptimizerHelper? torchSharp = null;
        if (mode == ClipMode.TorchClip && scenario.TorchSharp is not null)
        {
            torchSharpParameters = NewTorchParameters(initial);
            torchSharp = CreateTorchSharp(scenario, torchSharpParameters, g => optimizer.ParamGroups[g]["lr"]);
        }

        var referenceStats = new SortedDictionary<string, BufferStats>(StringComparer.Ordinal);
        var torchSharpStats = new SortedDictionary<string, BufferStats>(StringComparer.Ordinal);
        var checkpointLines = new List<string>();
        string? resumeMismatch = null;
        int clippedSteps = 0, coefficientDiffers = 0, maxCoefficientUlps = 0;
        double maxNormRelative = 0;

        try
        {
            for (int step = 1; step <= Steps; step++)
            {
                var ourOptimizers = uninterrupted is null ? new[] { optimizer } : new[] { optimizer, uninterrupted };
                schedule.BeforeStep(step, new LrTargets(ourOptimizers, reference, torchSharp));
                float[][] grads = Gradients(random);

                // Ours: ClipGradNorm computes the norm now and scales each gradient as the step loads it.
                double norm = StepOurs(optimizer, ours, grads);
                if (uninterrupted is not null)
                    StepOurs(uninterrupted, uninterruptedParameters!, grads);
                float coefficient = ClipCoefficient(norm);
                if (coefficient < 1)
                    clippedSteps++;

                // The reference.
                using (NewDisposeScope())
                {
                    SetGradients(referenceParameters, grads);
                    if (mode == ClipMode.TorchClip)
                    {
                        double torchNorm = torch.nn.utils.clip_grad_norm_(referenceParameters, MaxNorm);
                        maxNormRelative = Math.Max(maxNormRelative, Math.Abs(norm - torchNorm) / torchNorm);
                        int ulps = Math.Abs(BitConverter.SingleToInt32Bits(ClipCoefficient(torchNorm)) - BitConverter.SingleToInt32Bits(coefficient));
                        if (ulps != 0)
                            coefficientDiffers++;
                        maxCoefficientUlps = Math.Max(maxCoefficientUlps, ulps);
                    }
                    else
                    {
                        // clip_grad_norm_'s grad.mul_(clip_coef_clamped), with our coefficient
                        using var c = tensor(coefficient);
                        foreach (TSParameter p in referenceParameters)
                        {
                            using Tensor g = p.grad!;
                            g.mul_(c);
                        }
                    }
                    reference.Step();
                }

                // TorchSharp's class.
                if (torchSharp is not null)
                {
                    using (NewDisposeScope())
                    {
                        SetGradients(torchSharpParameters!, grads);
                        torch.nn.utils.clip_grad_norm_(torchSharpParameters!, MaxNorm);
                        torchSharp.step();
                    }
                }

                // Compare.
                ErrorStats? referenceCheckpoint = Checkpoints.Contains(step) ? new ErrorStats() : null;
                ErrorStats? torchSharpCheckpoint = Checkpoints.Contains(step) && torchSharp is not null ? new ErrorStats() : null;
                OptimizerStateDict state = optimizer.StateDict();
                CompareWithReference(step, ours, state, referenceParameters, reference, referenceStats, referenceCheckpoint, referenceTolerance, failures);
                if (torchSharp is not null)
                    CompareWithTorchSharp(step, ours, state, torchSharpParameters!, torchSharp, torchSharpStats, torchSharpCheckpoint, scenario.TorchSharpTolerance);
                if (uninterrupted is not null)
                    resumeMismatch ??= FirstBitDifference(step, ours, state, uninterruptedParameters!, uninterrupted.StateDict());
                if (referenceCheckpoint is not null)
                {
                    checkpointLines.Add($"    step {step,3}: vs reference {Summary(referenceCheckpoint)}"
                        + (torchSharpCheckpoint is null ? "" : $"; vs TorchSharp {Summary(torchSharpCheckpoint)}"));
                }

                if (step == ResumeAfter)
                {
                    // Ours: StateDict(), a fresh optimizer (constructor defaults) over fresh parameters with the same
                    // values, LoadStateDict(). The original continues alongside and must stay bit-identical.
                    (KOptimizer resumed, Parameter<float>[] fresh) = RoundTrip(scenario, optimizer, ours, failures);
                    uninterrupted = optimizer;
                    uninterruptedParameters = ours;
                    optimizer = resumed;
                    ours = fresh;

                    // TorchSharp: its own binary save_state_dict / load_state_dict into a fresh optimizer.
                    if (torchSharp is not null)
                    {
                        (torchSharp, torchSharpParameters) = RoundTripTorchSharp(scenario, torchSharp, torchSharpParameters!);
                    }
                }
            }
        }
        finally
        {
            torchSharp?.Dispose();
            foreach (TSParameter p in referenceParameters.Concat(torchSharpParameters ?? Array.Empty<TSParameter>()))
                p.Dispose();
        }

        // Report.
        if (scenario.Note is not null)
            report.AppendLine($"NOTE: {scenario.Note}");
        report.AppendLine($"{scenario.Name} [{mode}]: {Steps} steps, tensors {string.Join(", ", Shapes.Select(s => "[" + string.Join(",", s) + "]"))}, groups {{{string.Join("}, {", GroupMembers.Select(m => string.Join(",", m.Select(i => TensorNames[i]))))}}}, state-dict round trip after step {ResumeAfter}");
        report.AppendLine($"  clipping (max norm {MaxNorm}): {clippedSteps}/{Steps} steps clipped"
            + (mode == ClipMode.TorchClip
                ? $"; our norm vs clip_grad_norm_'s: max rel {maxNormRelative:0.00e+00}; float coefficients differ on {coefficientDiffers} steps, by at most {maxCoefficientUlps} ulp"
                : "; the reference applies our coefficient"));
        report.AppendLine($"  vs libtorch ops ({(mode == ClipMode.SameCoefficient ? "bit for bit, correctly rounded sqrt" : $"rtol {referenceTolerance.Rtol:G3}, atol {referenceTolerance.Atol:G3}")}):");
        foreach (var (buffer, s) in referenceStats)
            report.AppendLine($"    {buffer,-16} {s}");
        if (torchSharp is not null)
        {
            report.AppendLine($"  vs TorchSharp's class (rtol {scenario.TorchSharpTolerance.Rtol:G3}, atol {scenario.TorchSharpTolerance.Atol:G3}){(scenario.TorchSharpNote is null ? "" : "; " + scenario.TorchSharpNote)}:");
            foreach (var (buffer, s) in torchSharpStats)
                report.AppendLine($"    {buffer,-16} {s}");
        }
        else if (mode == ClipMode.TorchClip)
        {
            report.AppendLine($"  no TorchSharp comparison: {scenario.TorchSharpNote}");
        }
        report.AppendLine("  checkpoints (all tensors and buffers):");
        foreach (string line in checkpointLines)
            report.AppendLine(line);
        report.AppendLine($"  resumed optimizer vs uninterrupted one: {resumeMismatch ?? "bit-identical at every step"}");
        double worstReference = referenceStats.Values.Max(s => s.Errors.MaxRelative);
        double worstTorchSharp = torchSharpStats.Count == 0 ? 0 : torchSharpStats.Values.Max(s => s.Errors.MaxRelative);
        report.AppendLine($"  largest relative difference: vs reference {worstReference:0.00e+00}" + (torchSharp is null ? "" : $", vs TorchSharp {worstTorchSharp:0.00e+00}"));

        // Assertions.
        if (resumeMismatch is not null)
            failures.Add($"after the state-dict round trip the resumed optimizer differs from the uninterrupted one: {resumeMismatch}");
        if (clippedSteps < Steps / 2 || clippedSteps > Steps - 10)
            failures.Add($"the clip threshold should clip on most steps but not all: {clippedSteps}/{Steps}");
        if (mode == ClipMode.TorchClip && maxNormRelative > 1e-6)
            failures.Add($"our global norm differs from clip_grad_norm_'s by {maxNormRelative:0.00e+00} (relative), more than float32 rounding");
        foreach (var (buffer, s) in referenceStats.Where(kv => kv.Value.Errors.MaxUsage > 1))
            failures.Add($"{buffer} vs libtorch ops ({(mode == ClipMode.SameCoefficient ? "must be bit-identical" : "outside tolerance")}): {s.Errors.FirstViolation} ({s.Errors})");
        foreach (var (buffer, s) in torchSharpStats.Where(kv => kv.Value.Errors.MaxUsage > 1))
            failures.Add($"{buffer} vs TorchSharp's class outside tolerance: {s.Errors.FirstViolation} ({s.Errors})");
    }

    // ---- Our side ------------------------------------------------------------------------------

    private static double StepOurs(KOptimizer optimizer, Parameter<float>[] parameters, float[][] grads)
    {
        for (int k = 0; k < parameters.Length; k++)
            grads[k].CopyTo(parameters[k].Grad.Span);
        double norm = optimizer.ClipGradNorm(MaxNorm);
        optimizer.Step();
        return norm;
    }

    /// <summary>
    /// The clip coefficient <c>min(max_norm / (norm + 1e-6), 1)</c> in float32 from a norm: what
    /// <c>clip_grad_norm_</c> computes from its float32 norm tensor (<c>max_norm / (total_norm + 1e-6)</c> is
    /// <c>fill_(max_norm).div_(...)</c> in ATen, then <c>clamp(max=1)</c>), and what our optimizer computes from its
    /// norm (the formula of <c>ClipGradNorm</c>'s documentation, in the parameters' precision).
    /// </summary>
    private static float ClipCoefficient(double norm) => Kernels.Training.GradientClipping.ClipCoefficient(norm, MaxNorm);   // ours, by design: this variant isolates everything but the coefficient

    private static (KOptimizer Resumed, Parameter<float>[] Fresh) RoundTrip(OptimizerScenario scenario, KOptimizer optimizer, Parameter<float>[] parameters, List<string> failures)
    {
        OptimizerStateDict saved = optimizer.StateDict();
        Parameter<float>[] fresh = parameters.Select(p =>
        {
            var copy = new Parameter<float>(p.Name, p.Shape.ToArray());
            p.Data.Span.CopyTo(copy.Data.Span);
            return copy;
        }).ToArray();
        KOptimizer resumed = scenario.Ours.Create(Grouped(fresh), hyperparameters: null);
        resumed.LoadStateDict(saved);

        // Every hyperparameter of every group came back (the fresh optimizer started from the constructor's defaults).
        for (int g = 0; g < optimizer.ParamGroups.Count; g++)
        {
            foreach (string name in optimizer.ParamGroups[g].HyperparameterNames)
            {
                double before = optimizer.ParamGroups[g][name], after = resumed.ParamGroups[g][name];
                if (before != after)
                    failures.Add($"group {g}: hyperparameter {name} is {after:R} after LoadStateDict, {before:R} before StateDict");
            }
        }
        // The state dict is a copy both ways: scribbling on it now must change neither optimizer (the comparisons
        // that follow would see it).
        foreach (ParameterState? s in saved.State)
        {
            foreach (Array buffer in s!.Buffers.Values)
                ((float[])buffer).AsSpan().Fill(float.NaN);
        }
        return (resumed, fresh);
    }

    // ---- TorchSharp's class ----------------------------------------------------------------------

    private static TorchSharp.Modules.OptimizerHelper CreateTorchSharp(OptimizerScenario scenario, TSParameter[] parameters, Func<int, double> lr)
        => scenario.TorchSharp!(Grouped(parameters).Select((p, g) =>
        {
            var h = new Dictionary<string, double>(scenario.Groups[g], StringComparer.Ordinal) { ["lr"] = lr(g) };
            return (p, (IReadOnlyDictionary<string, double>)h);
        }).ToArray());

    private static (TorchSharp.Modules.OptimizerHelper, TSParameter[]) RoundTripTorchSharp(OptimizerScenario scenario, TorchSharp.Modules.OptimizerHelper optimizer, TSParameter[] parameters)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            optimizer.save_state_dict(writer);
        TSParameter[] fresh = NewTorchParameters(parameters.Select(p => p.data<float>().ToArray()).ToArray());
        // Hyperparameters and lr come from the saved state.
        TorchSharp.Modules.OptimizerHelper resumed = CreateTorchSharp(scenario, fresh, g => scenario.Groups[g]["lr"]);
        stream.Position = 0;
        using (var reader = new BinaryReader(stream))
            resumed.load_state_dict(reader);
        optimizer.Dispose();
        foreach (TSParameter p in parameters)
            p.Dispose();
        return (resumed, fresh);
    }

    /// <summary>A public field of TorchSharp's per-parameter state record, by PyTorch's name: a tensor or a double (NAdam's mu_product).</summary>
    private static object? TorchSharpState(TorchSharp.Modules.OptimizerHelper optimizer, int index, string name)
    {
        object state = optimizer.state_dict().State[index];
        return state.GetType().GetField(name, BindingFlags.Public | BindingFlags.Instance)?.GetValue(state);
    }

    // ---- Comparisons ---------------------------------------------------------------------------

    private static void CompareWithReference(int step, Parameter<float>[] ours, OptimizerStateDict state, TSParameter[] referenceParameters,
        TorchReferenceOptimizer reference, SortedDictionary<string, BufferStats> stats, ErrorStats? checkpoint, Tolerance tolerance, List<string> failures)
    {
        for (int k = 0; k < ours.Length; k++)
        {
            Add(stats, checkpoint, "param", ours[k].Data.Span, Read(referenceParameters[k]), tolerance, step);
            ParameterState s = state.State[k]!;
            ReferenceParameterState r = reference.StateOf(k);
            if (s.Step != r.Step)
                failures.Add($"step {step}, {TensorNames[k]}: step count {s.Step}, PyTorch's {r.Step}");
            var mine = s.Buffers.Keys.Select(Hyperparameters.ToSnakeCase).OrderBy(n => n, StringComparer.Ordinal).ToArray();
            var theirs = r.Buffers.Keys.OrderBy(n => n, StringComparer.Ordinal).ToArray();
            if (!mine.SequenceEqual(theirs) && failures.Count < 20)
                failures.Add($"step {step}, {TensorNames[k]}: state buffers [{string.Join(", ", mine)}], PyTorch keeps [{string.Join(", ", theirs)}]");
            foreach ((string name, Array values) in s.Buffers)
            {
                if (r.Buffers.TryGetValue(Hyperparameters.ToSnakeCase(name), out Tensor? t))
                    Add(stats, checkpoint, Hyperparameters.ToSnakeCase(name), (float[])values, Read(t), tolerance, step);
            }
            foreach ((string name, double value) in s.TensorState)
            {
                if (r.Scalars.TryGetValue(Hyperparameters.ToSnakeCase(name), out Tensor? t))
                    Add(stats, checkpoint, Hyperparameters.ToSnakeCase(name), new[] { (float)value }, new double[] { t.item<float>() }, tolerance, step);
            }
        }
    }

    private static void CompareWithTorchSharp(int step, Parameter<float>[] ours, OptimizerStateDict state, TSParameter[] parameters,
        TorchSharp.Modules.OptimizerHelper optimizer, SortedDictionary<string, BufferStats> stats, ErrorStats? checkpoint, Tolerance tolerance)
    {
        for (int k = 0; k < ours.Length; k++)
        {
            Add(stats, checkpoint, "param", ours[k].Data.Span, Read(parameters[k]), tolerance, step);
            ParameterState s = state.State[k]!;
            foreach ((string name, Array values) in s.Buffers)
            {
                if (TorchSharpState(optimizer, k, Hyperparameters.ToSnakeCase(name)) is Tensor t)
                    Add(stats, checkpoint, Hyperparameters.ToSnakeCase(name), (float[])values, Read(t), tolerance, step);
            }
            foreach ((string name, double value) in s.TensorState)
            {
                if (TorchSharpState(optimizer, k, Hyperparameters.ToSnakeCase(name)) is double d)
                    Add(stats, checkpoint, Hyperparameters.ToSnakeCase(name), new[] { (float)value }, new[] { d }, tolerance, step);
            }
        }
    }

    private static string? FirstBitDifference(int step, Parameter<float>[] resumed, OptimizerStateDict resumedState, Parameter<float>[] uninterrupted, OptimizerStateDict uninterruptedState)
    {
        for (int k = 0; k < resumed.Length; k++)
        {
            if (!resumed[k].Data.Span.SequenceEqual(uninterrupted[k].Data.Span))
                return $"step {step}: {TensorNames[k]} differs";
            ParameterState a = resumedState.State[k]!, b = uninterruptedState.State[k]!;
            if (a.Step != b.Step)
                return $"step {step}: {TensorNames[k]} step count {a.Step} vs {b.Step}";
            if (!a.Buffers.Keys.OrderBy(n => n).SequenceEqual(b.Buffers.Keys.OrderBy(n => n)))
                return $"step {step}: {TensorNames[k]} has buffers [{string.Join(", ", a.Buffers.Keys)}] vs [{string.Join(", ", b.Buffers.Keys)}]";
            foreach ((string name, Array values) in a.Buffers)
            {
                if (!((float[])values).AsSpan().SequenceEqual((float[])b.Buffers[name]))
                    return $"step {step}: {TensorNames[k]}.{name} differs";
            }
            foreach ((string name, double value) in a.TensorState)
            {
                if (BitConverter.DoubleToInt64Bits(value) != BitConverter.DoubleToInt64Bits(b.TensorState[name]))
                    return $"step {step}: {TensorNames[k]}.{name} {value:R} vs {b.TensorState[name]:R}";
            }
        }
        return null;
    }

    private static void Add(SortedDictionary<string, BufferStats> stats, ErrorStats? checkpoint, string buffer, ReadOnlySpan<float> actual, double[] expected, Tolerance tolerance, int step)
    {
        if (!stats.TryGetValue(buffer, out BufferStats? s))
            stats[buffer] = s = new BufferStats();
        s.Errors.Add(actual, expected, tolerance, step);
        for (int i = 0; i < actual.Length; i++)
            s.NeededAtol = Math.Max(s.NeededAtol, Math.Abs(actual[i] - expected[i]) - tolerance.Rtol * Math.Abs(expected[i]));
        checkpoint?.Add(actual, expected, tolerance, step);
    }

    /// <summary>One buffer's differences, and the smallest atol that the tolerance's rtol would need.</summary>
    private sealed class BufferStats
    {
        public ErrorStats Errors { get; } = new();

        /// <summary>max(|a - b| - rtol·|b|) over every element and step: the atol this rtol needs (the observations behind the tolerances).</summary>
        public double NeededAtol { get; set; }

        public override string ToString() => $"{Errors}; needs atol {Math.Max(NeededAtol, 0):0.0e+00}";
    }

    private static string Summary(ErrorStats s) => $"max rel {s.MaxRelative:0.00e+00}, max abs {s.MaxAbsolute:0.00e+00}, differing {s.Differing}/{s.Compared}";

    // ---- Data ----------------------------------------------------------------------------------

    private static int Length(int[] shape) => shape.Aggregate(1, (a, b) => a * b);

    /// <summary>
    /// One step's gradients, the same arrays for every side: normal, a different standard deviation per tensor, times
    /// a log-normal factor per step (so that the global norm is above the clip threshold on most steps, not all), with
    /// about 1% exact zeros (Rprop's and Adamax's zero paths).
    /// </summary>
    private static float[][] Gradients(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        double factor = Math.Exp(0.5 * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        return Shapes.Select((s, k) => ParityRunner.Normal(random, Length(s), GradientScales[k] * factor, zeros: true)).ToArray();
    }

    private static Parameter<float>[] NewParameters(float[][] values)
        => values.Select((v, k) =>
        {
            var p = new Parameter<float>(TensorNames[k], Shapes[k]);
            v.CopyTo(p.Data.Span);
            return p;
        }).ToArray();

    private static TSParameter[] NewTorchParameters(float[][] values)
        => values.Select((v, k) =>
        {
            using var t = tensor(v, Shapes[k].Select(d => (long)d).ToArray());
            return new TSParameter(t.detach().clone());
        }).ToArray();

    private static T[][] Grouped<T>(T[] parameters) => GroupMembers.Select(m => m.Select(i => parameters[i]).ToArray()).ToArray();

    private static void SetGradients(TSParameter[] parameters, float[][] grads)
    {
        for (int k = 0; k < parameters.Length; k++)
            parameters[k].grad = tensor(grads[k], Shapes[k].Select(d => (long)d).ToArray());
    }

    private static double[] Read(Tensor t)
    {
        float[] values = t.data<float>().ToArray();
        var wide = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
            wide[i] = values[i];
        return wide;
    }

    private static void CheckEveryHyperparameterGiven(KOptimizer optimizer, OptimizerScenario scenario, List<string> failures)
    {
        static string Key(string name) => name.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
        for (int g = 0; g < scenario.Groups.Count; g++)
        {
            var given = scenario.Groups[g].Keys.Select(Key).ToHashSet();
            foreach (string name in optimizer.ParamGroups[g].HyperparameterNames.Where(n => !given.Contains(Key(n))))
                failures.Add($"group {g}: the scenario does not give hyperparameter {name}: every side would use its own default");
        }
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Optimizers;
using Kernels.Training;
using Kernels.Training.Schedules;
using Xunit;

namespace Kernels.Tests.Training;

/// <summary>
/// The generated optimizer objects: each step must be bit-identical to calling the rule's span overload by hand with the
/// bookkeeping a user would otherwise write (state buffers, step counts, carried values), and the bookkeeping must follow
/// PyTorch's semantics (lazy state, per-group hyperparameters, per-parameter step counts).
/// </summary>
public class OptimizerTests
{
    private static readonly int[][] Shapes = { new[] { 3, 5 }, new[] { 7 }, new[] { 2, 3, 4 } };

    /// <summary>Three parameters of different shapes, values and gradients from a fixed formula.</summary>
    private static List<Parameter<float>> Model(int seed = 1)
    {
        var list = new List<Parameter<float>>();
        for (int k = 0; k < Shapes.Length; k++)
        {
            var p = new Parameter<float>("p" + k, Shapes[k]);
            Span<float> data = p.Data.Span;
            for (int i = 0; i < data.Length; i++)
                data[i] = (float)Math.Sin(seed * 100 + k * 10 + i);
            list.Add(p);
        }
        return list;
    }

    /// <summary>Fills every gradient for step <paramref name="step"/> (a different, repeatable gradient each step).</summary>
    private static void Backward(IEnumerable<Parameter<float>> parameters, int step)
    {
        int k = 0;
        foreach (Parameter<float> p in parameters)
        {
            Span<float> grad = p.Grad.Span;
            for (int i = 0; i < grad.Length; i++)
                grad[i] = (float)Math.Cos(step * 0.7 + k * 1.3 + i * 0.1) * (1 + k);
            k++;
        }
    }

    private static float[][] Values(IEnumerable<Parameter<float>> parameters) => parameters.Select(p => p.Data.ToArray()).ToArray();

    private static void AssertBitIdentical(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int k = 0; k < expected.Length; k++)
        {
            for (int i = 0; i < expected[k].Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[k][i]) == BitConverter.SingleToInt32Bits(actual[k][i]),
                    $"tensor {k} element {i}: expected {expected[k][i]:R}, got {actual[k][i]:R}");
        }
    }

    [Fact]
    public void AdamW_TwoGroups_MatchesTheSpanOverloadWithHandWrittenBookkeeping()
    {
        List<Parameter<float>> model = Model(), reference = Model();
        var optimizer = new AdamW.Optimizer(model.Take(2), lr: 1e-2, weightDecay: 0.1);
        optimizer.AddParamGroup(model.Skip(2), g => { g.Lr = 3e-3; g.Amsgrad = true; });

        float[][] expAvg = reference.Select(p => new float[p.Length]).ToArray();
        float[][] expAvgSq = reference.Select(p => new float[p.Length]).ToArray();
        float[] max = new float[reference[2].Length];
        for (int step = 1; step <= 20; step++)
        {
            Backward(model, step);
            Backward(reference, step);
            optimizer.Step();
            for (int k = 0; k < 2; k++)
                AdamW.Step(reference[k].Data.Span, reference[k].Grad.Span, expAvg[k], expAvgSq[k], default, step, lr: 1e-2, weightDecay: 0.1);
            AdamW.Step(reference[2].Data.Span, reference[2].Grad.Span, expAvg[2], expAvgSq[2], max, step, lr: 3e-3, weightDecay: 0.1, amsgrad: true);
        }
        AssertBitIdentical(Values(reference), Values(model));

        // State as PyTorch keeps it: the running maximum only where AMSGrad is on.
        OptimizerStateDict state = optimizer.StateDict();
        Assert.Equal(new[] { "expAvg", "expAvgSq" }, state.State[0]!.Buffers.Keys.OrderBy(k => k));
        Assert.Equal(new[] { "expAvg", "expAvgSq", "maxExpAvgSq" }, state.State[2]!.Buffers.Keys.OrderBy(k => k));
        Assert.All(state.State, s => Assert.Equal(20, s!.Step));
        AssertBitIdentical(new[] { max }, new[] { (float[])state.State[2]!.Buffers["maxExpAvgSq"] });
    }

    [Fact]
    public void Sgd_WithoutMomentum_NeverAllocatesTheMomentumBuffer_AndWithMomentumCopiesTheFirstGradient()
    {
        List<Parameter<float>> plain = Model(), heavy = Model();
        var noMomentum = new SGD.Optimizer(plain, lr: 0.1);
        var momentum = new SGD.Optimizer(heavy, lr: 0.1, momentum: 0.9, dampening: 0.5);
        Backward(plain, 1);
        Backward(heavy, 1);
        noMomentum.Step();
        momentum.Step();

        Assert.Empty(noMomentum.StateDict().State[0]!.Buffers);
        // PyTorch's first step: buf = g (no dampening), so the first update is p - lr * g.
        float[] buffer = (float[])momentum.StateDict().State[1]!.Buffers["momentumBuffer"];
        Assert.Equal(heavy[1].Grad.ToArray(), buffer);
    }

    [Fact]
    public void Sgd_StepCountAdvances_SoMomentumIsNotDroppedOnLaterSteps()
    {
        // The bug the optimizer object exists to prevent: calling the rule with step 1 every time re-copies the gradient.
        List<Parameter<float>> model = Model(), reference = Model();
        var optimizer = new SGD.Optimizer(model, lr: 0.05, momentum: 0.9);
        float[][] buffers = reference.Select(p => new float[p.Length]).ToArray();
        for (int step = 1; step <= 5; step++)
        {
            Backward(model, step);
            Backward(reference, step);
            optimizer.Step();
            for (int k = 0; k < reference.Count; k++)
                SGD.Step(reference[k].Data.Span, reference[k].Grad.Span, buffers[k], 0.05, step, momentum: 0.9);
        }
        AssertBitIdentical(Values(reference), Values(model));
    }

    [Fact]
    public void Adagrad_StateStartsAtTheInitialAccumulatorValue()
    {
        List<Parameter<float>> model = Model();
        var optimizer = new Adagrad.Optimizer(model, initialAccumulatorValue: 0.25);
        Backward(model, 1);
        Parameter<float> p = model[0];
        float[] before = p.Data.ToArray();
        optimizer.Step();

        float[] sum = (float[])optimizer.StateDict().State[0]!.Buffers["sum"];
        float[] expectedSum = Enumerable.Repeat(0.25f, p.Length).ToArray();
        float[] expectedParam = (float[])before.Clone();
        Adagrad.Step(expectedParam, p.Grad.Span, expectedSum, step: 1);
        AssertBitIdentical(new[] { expectedSum, expectedParam }, new[] { sum, p.Data.ToArray() });
    }

    [Fact]
    public void Rprop_StepSizeStartsAtLr()
    {
        List<Parameter<float>> model = Model();
        var optimizer = new Rprop.Optimizer(model, lr: 0.03);
        Backward(model, 1);
        optimizer.Step();
        // First step: prev is 0, so the factor is 1 and the step size stays lr (rounded to float, as PyTorch's full_like).
        float[] stepSize = (float[])optimizer.StateDict().State[1]!.Buffers["stepSize"];
        Assert.All(stepSize, s => Assert.Equal(0.03f, s));
    }

    [Fact]
    public void NAdam_CarriesTheMomentumProductPerTensor()
    {
        List<Parameter<float>> model = Model(), reference = Model();
        var optimizer = new NAdam.Optimizer(model, lr: 1e-2);
        float[][] m = reference.Select(p => new float[p.Length]).ToArray(), v = reference.Select(p => new float[p.Length]).ToArray();
        for (int step = 1; step <= 12; step++)
        {
            Backward(model, step);
            Backward(reference, step);
            optimizer.Step();
            double muProduct = NAdam.MuProduct(step);
            for (int k = 0; k < reference.Count; k++)
                NAdam.Step(reference[k].Data.Span, reference[k].Grad.Span, m[k], v[k], step, muProduct, lr: 1e-2);
        }
        AssertBitIdentical(Values(reference), Values(model));
        Assert.Equal(NAdam.MuProduct(12), optimizer.StateDict().State[0]!.TensorState["muProduct"]);
    }

    [Fact]
    public void Asgd_CarriesEtaAndMu_AsItsScheduleGivesThemForAConstantLr()
    {
        List<Parameter<float>> model = Model(), reference = Model();
        var optimizer = new ASGD.Optimizer(model, lr: 0.05, t0: 3);
        float[][] ax = reference.Select(p => new float[p.Length]).ToArray();
        for (int step = 1; step <= 8; step++)
        {
            Backward(model, step);
            Backward(reference, step);
            optimizer.Step();
            var (eta, mu) = ASGD.Schedule(step, lr: 0.05, t0: 3);
            for (int k = 0; k < reference.Count; k++)
                ASGD.Step(reference[k].Data.Span, reference[k].Grad.Span, ax[k], eta, mu);
        }
        AssertBitIdentical(Values(reference), Values(model));
    }

    [Fact]
    public void GroupAddedLater_KeepsItsOwnStepCount()
    {
        List<Parameter<float>> model = Model(), reference = Model();
        var optimizer = new Adam.Optimizer(model.Take(2), lr: 1e-2);
        float[][] m = reference.Select(p => new float[p.Length]).ToArray(), v = reference.Select(p => new float[p.Length]).ToArray();
        for (int step = 1; step <= 6; step++)
        {
            if (step == 4)
                optimizer.AddParamGroup(model.Skip(2));
            Backward(model, step);
            Backward(reference, step);
            optimizer.Step();
            for (int k = 0; k < reference.Count; k++)
            {
                int own = k < 2 ? step : step - 3;
                if (own >= 1)
                    Adam.Step(reference[k].Data.Span, reference[k].Grad.Span, m[k], v[k], default, own, lr: 1e-2);
            }
        }
        AssertBitIdentical(Values(reference), Values(model));
        Assert.Equal(new long[] { 6, 6, 3 }, optimizer.StateDict().State.Select(s => s!.Step));
    }

    [Fact]
    public void ParameterWithoutGrad_IsLeftAlone_AsPyTorchSkipsGradNone()
    {
        // PyTorch: a parameter whose grad is None gets no update, no state and no step count; clip_grad_norm_ leaves it out.
        List<Parameter<float>> model = Model(), reference = Model();
        var optimizer = new AdamW.Optimizer(model, lr: 1e-2) { SkipNonFiniteSteps = true };
        float[][] m = reference.Select(p => new float[p.Length]).ToArray(), v = reference.Select(p => new float[p.Length]).ToArray();
        model[1].HasGrad = false;   // before its first gradient: no state either
        var own = new int[reference.Count];
        for (int step = 1; step <= 5; step++)
        {
            model[1].HasGrad = step is not (1 or 3);
            Backward(model, step);
            Backward(reference, step);
            if (!model[1].HasGrad)
                model[1].Grad.Span[0] = float.NaN;   // never read: neither the clip nor the non-finite check sees it
            double norm = optimizer.ClipGradNorm(maxNorm: 0.5);
            optimizer.Step();
            Assert.False(optimizer.LastStepSkipped);

            double expected = Math.Sqrt(reference.Where((_, k) => model[k].HasGrad).Sum(p => p.Grad.ToArray().Sum(g => (double)g * g)));
            Assert.Equal(expected, norm, 1e-12 * expected);
            float coefficient = Math.Min(0.5f / ((float)norm + 1e-6f), 1f);
            for (int k = 0; k < reference.Count; k++)
            {
                if (!model[k].HasGrad)
                    continue;
                float[] scaled = reference[k].Grad.ToArray().Select(g => g * coefficient).ToArray();
                AdamW.Step(reference[k].Data.Span, scaled, m[k], v[k], default, ++own[k], lr: 1e-2);
            }
            if (step == 1)
                Assert.Null(optimizer.StateDict().State[1]);
        }
        AssertBitIdentical(Values(reference), Values(model));
        Assert.Equal(new long[] { 5, 3, 5 }, optimizer.StateDict().State.Select(s => s!.Step));

        model[1].HasGrad = false;
        optimizer.ZeroGrad();
        Assert.NotEqual(0f, model[1].Grad.Span[1]);
        Assert.All(model[0].Grad.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Hyperparameters_ByName_AcceptTheRuleAndPyTorchSpellings()
    {
        var optimizer = new AdamW.Optimizer(Model(), lr: 1e-3);
        IParamGroup group = optimizer.ParamGroups[0];
        group["weight_decay"] = 0.5;
        group["lr"] = 2e-3;
        group["amsgrad"] = 1;
        Assert.Equal(0.5, optimizer.Groups[0].Options.WeightDecay);
        Assert.Equal(2e-3, optimizer.Groups[0].Options.Lr);
        Assert.True(optimizer.Groups[0].Options.Amsgrad);
        Assert.Equal(1e-3, optimizer.Defaults.Lr);   // a group's options are its own copy
        var e = Assert.Throws<ArgumentException>(() => group["momentum"] = 0.9);
        Assert.Contains("momentum", e.Message);
        Assert.DoesNotContain("step", group.HyperparameterNames);   // the optimizer supplies the step count
    }

    [Fact]
    public void Constructor_RejectsEmptyDuplicatedOrSameNamedParameters()
    {
        List<Parameter<float>> model = Model();
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => new AdamW.Optimizer(Array.Empty<Parameter<float>>())).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => new AdamW.Optimizer(new[] { model[0], model[0] })).ParamName);
        var optimizer = new AdamW.Optimizer(model.Take(1));
        Assert.Throws<ArgumentException>(() => optimizer.AddParamGroup(model.Take(1)));
        Assert.Throws<ArgumentException>(() => optimizer.AddParamGroup(new[] { new Parameter<float>("p0", 2) }));
        Assert.Single(optimizer.ParamGroups);
    }

    [Fact]
    public void ZeroGrad_ClearsEveryGradient()
    {
        List<Parameter<float>> model = Model();
        var optimizer = new SGD.Optimizer(model, lr: 0.1);
        Backward(model, 1);
        optimizer.ZeroGrad();
        Assert.All(model, p => Assert.All(p.Grad.ToArray(), g => Assert.Equal(0f, g)));
    }

    [Fact]
    public void ClipGradNorm_IsAppliedInsideTheStep_AndLeavesTheGradientsUnchanged()
    {
        List<Parameter<float>> model = Model(), reference = Model();
        var optimizer = new AdamW.Optimizer(model, lr: 1e-2);
        float[][] m = reference.Select(p => new float[p.Length]).ToArray(), v = reference.Select(p => new float[p.Length]).ToArray();
        for (int step = 1; step <= 5; step++)
        {
            Backward(model, step);
            Backward(reference, step);
            float[][] grads = model.Select(p => p.Grad.ToArray()).ToArray();
            double norm = optimizer.ClipGradNorm(maxNorm: 0.5);
            optimizer.Step();
            AssertBitIdentical(grads, model.Select(p => p.Grad.ToArray()).ToArray());

            // PyTorch: grads scaled in place by the float coefficient min(max / (norm + 1e-6), 1), then the step.
            double expectedNorm = Math.Sqrt(reference.Sum(p => p.Grad.ToArray().Sum(g => (double)g * g)));
            Assert.Equal(expectedNorm, norm, 1e-12 * expectedNorm);
            float coefficient = Math.Min(0.5f / ((float)norm + 1e-6f), 1f);
            Assert.True(coefficient < 1);
            for (int k = 0; k < reference.Count; k++)
            {
                float[] scaled = reference[k].Grad.ToArray().Select(g => g * coefficient).ToArray();
                AdamW.Step(reference[k].Data.Span, scaled, m[k], v[k], default, step, lr: 1e-2);
            }
        }
        AssertBitIdentical(Values(reference), Values(model));
    }

    [Fact]
    public void SkipNonFiniteSteps_SkipsTheWholeUpdate_AndTheStepCount()
    {
        List<Parameter<float>> model = Model();
        var optimizer = new AdamW.Optimizer(model) { SkipNonFiniteSteps = true };
        Backward(model, 1);
        optimizer.Step();
        float[][] before = Values(model);
        Backward(model, 2);
        model[1].Grad.Span[3] = float.PositiveInfinity;
        optimizer.Step();
        Assert.True(optimizer.LastStepSkipped);
        Assert.Equal(1, optimizer.SkippedSteps);
        AssertBitIdentical(before, Values(model));
        Assert.All(optimizer.StateDict().State, s => Assert.Equal(1, s!.Step));

        // Found by the clip's reduction as well.
        double norm = optimizer.ClipGradNorm(1.0);
        Assert.True(double.IsInfinity(norm));
        optimizer.Step();
        Assert.Equal(2, optimizer.SkippedSteps);
        Backward(model, 3);
        optimizer.Step();
        Assert.False(optimizer.LastStepSkipped);
    }

    [Fact]
    public void ClipGradNorm_ErrorIfNonfinite_Throws()
    {
        List<Parameter<float>> model = Model();
        var optimizer = new AdamW.Optimizer(model);
        model[0].Grad.Span[0] = float.NaN;
        Assert.Throws<InvalidOperationException>(() => optimizer.ClipGradNorm(1.0, errorIfNonfinite: true));
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.ClipGradNorm(-1)).ParamName);
        Assert.Equal("normType", Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.ClipGradNorm(1, normType: 3)).ParamName);
    }

    [Fact]
    public void StateDict_RoundTrip_ResumesBitIdentically()
    {
        List<Parameter<float>> model = Model(), resumed = Model();
        var optimizer = new AdamW.Optimizer(model, lr: 1e-2, amsgrad: true);
        for (int step = 1; step <= 5; step++)
        {
            Backward(model, step);
            optimizer.Step();
        }
        OptimizerStateDict state = optimizer.StateDict();
        for (int k = 0; k < model.Count; k++)
            model[k].Data.Span.CopyTo(resumed[k].Data.Span);
        var second = new AdamW.Optimizer(resumed, lr: 0.5);
        second.LoadStateDict(state);
        Assert.Equal(1e-2, second.Groups[0].Options.Lr);
        for (int step = 6; step <= 10; step++)
        {
            Backward(model, step);
            Backward(resumed, step);
            optimizer.Step();
            second.Step();
        }
        AssertBitIdentical(Values(model), Values(resumed));
    }

    [Fact]
    public void LoadStateDict_Mismatch_Throws_AndLeavesTheOptimizerAsItWas()
    {
        List<Parameter<float>> model = Model();
        var optimizer = new AdamW.Optimizer(model, lr: 1e-2);
        Backward(model, 1);
        optimizer.Step();
        OptimizerStateDict before = optimizer.StateDict();

        var other = new Adam.Optimizer(Model(2));
        Backward(other.Groups[0].Parameters.Cast<Parameter<float>>(), 1);
        other.Step();
        Assert.Throws<ArgumentException>(() => optimizer.LoadStateDict(other.StateDict()));

        var smaller = new AdamW.Optimizer(Model().Take(2));
        Assert.Throws<ArgumentException>(() => optimizer.LoadStateDict(smaller.StateDict()));

        var reshaped = Model();
        reshaped[1] = new Parameter<float>("p1", 8);
        var wrongShape = new AdamW.Optimizer(reshaped);
        Assert.Throws<ArgumentException>(() => optimizer.LoadStateDict(wrongShape.StateDict()));

        OptimizerStateDict after = optimizer.StateDict();
        Assert.Equal(before.State[0]!.Step, after.State[0]!.Step);
        Assert.Equal((float[])before.State[0]!.Buffers["expAvg"], (float[])after.State[0]!.Buffers["expAvg"]);
        Assert.Equal(1e-2, optimizer.Groups[0].Options.Lr);
    }

    [Fact]
    public void Step_ManyTensorsAcrossThreads_MatchesOneThread()
    {
        // 40 tensors of 10,000: above the parallel threshold in all, so the batch is split across threads.
        List<Parameter<float>> Big() => Enumerable.Range(0, 40).Select(k =>
        {
            var p = new Parameter<float>("w" + k, 100, 100);
            for (int i = 0; i < p.Length; i++)
            {
                p.Data.Span[i] = (float)Math.Sin(k + i * 0.01);
                p.Grad.Span[i] = (float)Math.Cos(k * 0.5 + i * 0.003);
            }
            return p;
        }).ToList();
        List<Parameter<float>> a = Big(), b = Big();
        var one = new AdamW.Optimizer(a, stepOptions: StepOptions.SingleThreaded);
        var many = new AdamW.Optimizer(b, stepOptions: new StepOptions(maxDegreeOfParallelism: 3, parallelThreshold: 1000));
        for (int s = 0; s < 3; s++)
        {
            one.Step();
            many.Step();
        }
        AssertBitIdentical(Values(a), Values(b));
    }

    [Fact]
    public void Schedules_DriveAnyHyperparameterOfEachGroup()
    {
        List<Parameter<float>> model = Model();
        var optimizer = new AdamW.Optimizer(model.Take(2), lr: 0.1, weightDecay: 0.2);
        optimizer.AddParamGroup(model.Skip(2), g => g.Lr = 0.01);
        var warmup = new LinearLR(optimizer, startFactor: 0.5, endFactor: 1, totalIters: 4);
        var decay = new StepLR(optimizer, stepSize: 2, gamma: 0.5, hyperparameter: "weight_decay");
        Assert.Equal(0.05, optimizer.Groups[0].Options.Lr, 15);
        Assert.Equal(0.005, optimizer.Groups[1].Options.Lr, 15);
        for (int step = 1; step <= 4; step++)
        {
            Backward(model, step);
            optimizer.Step();
            warmup.Step();
            decay.Step();
        }
        Assert.Equal(0.1, optimizer.Groups[0].Options.Lr, 15);
        Assert.Equal(0.01, optimizer.Groups[1].Options.Lr, 15);
        Assert.Equal(0.05, optimizer.Groups[0].Options.WeightDecay, 15);   // 0.2 halved at steps 2 and 4
    }
}

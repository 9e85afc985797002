using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Matrices;
using Kernels.Optimizers;
using Kernels.Tests.Matrices;
using Kernels.Training;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Training;

/// <summary>
/// The Muon optimizer object: each step bit-identical to its three parts called by hand (the generated element-wise
/// rules and <see cref="NewtonSchulz"/>), PyTorch's bookkeeping (2-D only, lazy momentum buffer, groups, state dicts),
/// the fused clip, and both GEMM backends.
/// </summary>
[Collection(GemmBackendCollection.Name)]
public sealed class MuonTests(ITestOutputHelper output)
{
    private static readonly int[][] Shapes = { new[] { 16, 40 }, new[] { 40, 16 }, new[] { 24, 24 } };

    private static List<Parameter<float>> Model()
    {
        var list = new List<Parameter<float>>();
        for (int k = 0; k < Shapes.Length; k++)
        {
            var p = new Parameter<float>("w" + k, Shapes[k]);
            Span<float> data = p.Data.Span;
            for (int i = 0; i < data.Length; i++)
                data[i] = (float)Math.Sin(100 + k * 10 + i) * 0.1f;
            list.Add(p);
        }
        return list;
    }

    private static void Backward(IEnumerable<Parameter<float>> parameters, int step)
    {
        int k = 0;
        foreach (Parameter<float> p in parameters)
        {
            Span<float> grad = p.Grad.Span;
            for (int i = 0; i < grad.Length; i++)
                grad[i] = (float)(Math.Cos(step * 0.7 + k * 1.3 + i * 0.37) + Math.Sin(i * i * 0.01 + step)) * (1 + k);
            k++;
        }
    }

    private static void AssertBitIdentical(IReadOnlyList<float[]> expected, IReadOnlyList<Parameter<float>> actual)
    {
        for (int k = 0; k < expected.Count; k++)
        {
            float[] got = actual[k].Data.ToArray();
            for (int i = 0; i < got.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[k][i]) == BitConverter.SingleToInt32Bits(got[i]),
                    $"tensor {k} element {i}: expected {expected[k][i]:R}, got {got[i]:R}");
        }
    }

    [Theory]
    [InlineData(true, Muon.LrAdjustment.Original)]
    [InlineData(false, Muon.LrAdjustment.MatchRmsAdamW)]
    public void Step_IsTheRulesAndNewtonSchulzByHand(bool nesterov, Muon.LrAdjustment adjust)
    {
        const double lr = 0.02, wd = 0.1, momentum = 0.9;
        List<Parameter<float>> model = Model();
        var optimizer = new Muon.Optimizer(model, lr: lr, weightDecay: wd, momentum: momentum, nesterov: nesterov, adjustLrFn: adjust);

        List<Parameter<float>> mirror = Model();
        float[][] buffers = mirror.Select(p => new float[p.Length]).ToArray();
        for (int step = 1; step <= 4; step++)
        {
            Backward(model, step);
            Backward(mirror, step);
            optimizer.Step();
            for (int k = 0; k < mirror.Count; k++)
            {
                Parameter<float> p = mirror[k];
                int rows = p.Shape[0], cols = p.Shape[1];
                var update = new float[p.Length];
                Muon.UpdateMomentum(buffers[k], p.Grad.Span, update, momentum, nesterov);
                NewtonSchulz.Orthogonalize(update, update, rows, cols);
                Muon.ApplyUpdate(p.Data.Span, update, lr, Muon.AdjustLr(lr, rows, cols, adjust), wd);
            }
            AssertBitIdentical(mirror.Select(p => p.Data.ToArray()).ToArray(), model);
        }
        OptimizerStateDict state = optimizer.StateDict();
        for (int k = 0; k < buffers.Length; k++)
        {
            Assert.Equal(4, state.State[k]!.Step);
            Assert.Equal(buffers[k], (float[])state.State[k]!.Buffers["momentumBuffer"]);
        }
    }

    /// <summary>
    /// <c>nsPrecision</c>: bfloat16 (by constructor, by name in a group, and in the hybrid) runs the bfloat16
    /// Newton–Schulz between the same two element-wise passes, bit for bit; float32 stays the default.
    /// </summary>
    [Fact]
    public void NsPrecision_BFloat16_IsTheBFloat16NewtonSchulzByHand()
    {
        const double lr = 0.02, wd = 0.1, momentum = 0.95;
        List<Parameter<float>> model = Model(), byName = Model(), hybridModel = Model(), mirror = Model();
        var optimizer = new Muon.Optimizer(model, lr: lr, weightDecay: wd, nsPrecision: NewtonSchulzPrecision.BFloat16);
        var named = new Muon.Optimizer(byName, lr: lr, weightDecay: wd);
        Assert.Equal(NewtonSchulzPrecision.Float32, named.Defaults.NsPrecision);
        named.ParamGroups[0]["ns_precision"] = 1;
        Assert.Throws<ArgumentException>(() => named.ParamGroups[0]["nsPrecision"] = 2);
        var hybrid = new Muon.HybridOptimizer(hybridModel, useMuon: _ => true, lr: lr, weightDecay: wd, nsPrecision: NewtonSchulzPrecision.BFloat16);
        Assert.Equal(1.0, optimizer.StateDict().ParamGroups[0].Hyperparameters["nsPrecision"]);

        float[][] buffers = mirror.Select(p => new float[p.Length]).ToArray();
        for (int step = 1; step <= 3; step++)
        {
            foreach (List<Parameter<float>> m in new[] { model, byName, hybridModel, mirror })
                Backward(m, step);
            optimizer.Step();
            named.Step();
            hybrid.Step();
            for (int k = 0; k < mirror.Count; k++)
            {
                Parameter<float> p = mirror[k];
                int rows = p.Shape[0], cols = p.Shape[1];
                var update = new float[p.Length];
                Muon.UpdateMomentum(buffers[k], p.Grad.Span, update, momentum, true);
                NewtonSchulz.Orthogonalize(update, update, rows, cols, precision: NewtonSchulzPrecision.BFloat16);
                Muon.ApplyUpdate(p.Data.Span, update, lr, Muon.AdjustLr(lr, rows, cols), wd);
            }
            float[][] expected = mirror.Select(p => p.Data.ToArray()).ToArray();
            AssertBitIdentical(expected, model);
            AssertBitIdentical(expected, byName);
            AssertBitIdentical(expected, hybridModel);
        }
    }

    [Fact]
    public void AdjustLr_IsPyTorchs()
    {
        Assert.Equal(0.02, Muon.AdjustLr(0.02, 64, 256));
        Assert.Equal(0.02 * Math.Sqrt(4.0), Muon.AdjustLr(0.02, 256, 64));
        Assert.Equal(0.02 * (0.2 * Math.Sqrt(256.0)), Muon.AdjustLr(0.02, 64, 256, Muon.LrAdjustment.MatchRmsAdamW));
        Assert.Equal(0.02 * (0.2 * Math.Sqrt(300.0)), Muon.AdjustLr(0.02, 300, 300, Muon.LrAdjustment.MatchRmsAdamW));
        Assert.Throws<ArgumentOutOfRangeException>(() => Muon.AdjustLr(0.02, 3, 3, (Muon.LrAdjustment)5));
    }

    [Fact]
    public void OnlyMatrices_TheMessageNamesTheParameter()
    {
        var bias = new Parameter<float>("layer1.bias", 16);
        var ex = Assert.Throws<ArgumentException>(() => new Muon.Optimizer(new[] { new Parameter<float>("w", 4, 4), bias }));
        Assert.Contains("'layer1.bias'", ex.Message);
        Assert.Contains("2-D", ex.Message);

        var optimizer = new Muon.Optimizer(new[] { new Parameter<float>("w", 4, 4) });
        ex = Assert.Throws<ArgumentException>(() => optimizer.AddParamGroup(new[] { new Parameter<float>("conv", 2, 3, 3, 3) }));
        Assert.Contains("'conv'", ex.Message);
        Assert.Single(optimizer.ParamGroups);
    }

    [Fact]
    public void Defaults_AndHyperparametersByName_ArePyTorchs()
    {
        var optimizer = new Muon.Optimizer(new[] { new Parameter<float>("w", 4, 4) });
        Muon.Options o = optimizer.Defaults;
        Assert.Equal((1e-3, 0.1, 0.95, true, 1e-7, 5), (o.Lr, o.WeightDecay, o.Momentum, o.Nesterov, o.Eps, o.NsSteps));
        Assert.Equal((3.4445, -4.7750, 2.0315), o.NsCoefficients);
        Assert.Equal(Muon.LrAdjustment.Original, o.AdjustLrFn);

        IParamGroup group = optimizer.ParamGroups[0];
        group["adjust_lr_fn"] = 1;
        group["ns_steps"] = 3;
        group["ns_coefficient_b"] = -4.5;
        Assert.Equal(Muon.LrAdjustment.MatchRmsAdamW, optimizer.Groups[0].Options.AdjustLrFn);
        Assert.Equal(3, optimizer.Groups[0].Options.NsSteps);
        Assert.Equal(-4.5, optimizer.Groups[0].Options.NsCoefficients.B);
        Assert.Throws<ArgumentException>(() => group["adjust_lr_fn"] = 2);
        Assert.Throws<ArgumentException>(() => group["ns_steps"] = 2.5);

        Assert.Throws<ArgumentOutOfRangeException>(() => new Muon.Optimizer(new[] { new Parameter<float>("w", 4, 4) }, lr: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Muon.Optimizer(new[] { new Parameter<float>("w", 4, 4) }, nsSteps: 100));

        // A value the step cannot run with throws before anything is written.
        optimizer.Groups[0].Options.NsSteps = 100;
        var w = (Parameter<float>)optimizer.Groups[0].Parameters[0];
        w.Grad.Span.Fill(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.Step());
        Assert.All(w.Data.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ClipGradNorm_IsTheStepOnScaledGradients()
    {
        List<Parameter<float>> model = Model(), mirror = Model();
        var clipped = new Muon.Optimizer(model, lr: 0.05);
        var byHand = new Muon.Optimizer(mirror, lr: 0.05);
        for (int step = 1; step <= 3; step++)
        {
            Backward(model, step);
            Backward(mirror, step);
            double norm = clipped.ClipGradNorm(maxNorm: 1.0);
            float coefficient = GradientClipping.ClipCoefficient(norm, 1.0);
            Assert.True(coefficient < 1);
            foreach (Parameter<float> p in mirror)
            {
                Span<float> g = p.Grad.Span;
                for (int i = 0; i < g.Length; i++)
                    g[i] *= coefficient;
            }
            clipped.Step();
            byHand.Step();
            AssertBitIdentical(mirror.Select(p => p.Data.ToArray()).ToArray(), model);
        }
    }

    [Fact]
    public void StateDict_RoundTrip_ContinuesIdentically()
    {
        List<Parameter<float>> model = Model();
        var optimizer = new Muon.Optimizer(model.Take(2), lr: 0.03);
        optimizer.AddParamGroup(model.Skip(2), g => g.AdjustLrFn = Muon.LrAdjustment.MatchRmsAdamW);
        for (int step = 1; step <= 3; step++)
        {
            Backward(model, step);
            optimizer.Step();
        }
        OptimizerStateDict state = optimizer.StateDict();
        Assert.Equal(1.0, state.ParamGroups[1].Hyperparameters["adjustLrFn"]);

        List<Parameter<float>> copy = Model();
        for (int k = 0; k < copy.Count; k++)
            model[k].Data.CopyTo(copy[k].Data);
        var resumed = new Muon.Optimizer(copy.Take(2));
        resumed.AddParamGroup(copy.Skip(2));
        resumed.LoadStateDict(state);
        Assert.Equal(Muon.LrAdjustment.MatchRmsAdamW, resumed.Groups[1].Options.AdjustLrFn);
        for (int step = 4; step <= 6; step++)
        {
            Backward(model, step);
            Backward(copy, step);
            optimizer.Step();
            resumed.Step();
            AssertBitIdentical(model.Select(p => p.Data.ToArray()).ToArray(), copy);
        }
    }

    [Fact]
    public void Checkpoint_SaveAndLoad_ResumesIdentically()
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"kernels-muon-{Guid.NewGuid():N}.safetensors");
        try
        {
            List<Parameter<float>> model = Model();
            var optimizer = new Muon.Optimizer(model, lr: 0.03, nesterov: false, adjustLrFn: Muon.LrAdjustment.MatchRmsAdamW);
            for (int step = 1; step <= 2; step++)
            {
                Backward(model, step);
                optimizer.Step();
            }
            Checkpoint.Save(path, optimizer);

            List<Parameter<float>> resumedModel = Model();
            var resumed = new Muon.Optimizer(resumedModel);
            Checkpoint.Load(path, resumed);
            Assert.False(resumed.Groups[0].Options.Nesterov);
            Assert.Equal(Muon.LrAdjustment.MatchRmsAdamW, resumed.Groups[0].Options.AdjustLrFn);
            for (int step = 3; step <= 4; step++)
            {
                Backward(model, step);
                Backward(resumedModel, step);
                optimizer.Step();
                resumed.Step();
                AssertBitIdentical(model.Select(p => p.Data.ToArray()).ToArray(), resumedModel);
            }
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void BothBackends_Agree()
    {
        bool saved = Gemm.ForceManaged;
        try
        {
            var results = new List<float[][]>();
            foreach (bool managed in new[] { true, false })
            {
                Gemm.ForceManaged = managed;
                List<Parameter<float>> model = Model();
                var optimizer = new Muon.Optimizer(model, lr: 0.02);
                for (int step = 1; step <= 10; step++)
                {
                    Backward(model, step);
                    optimizer.Step();
                }
                results.Add(model.Select(p => p.Data.ToArray()).ToArray());
                output.WriteLine($"ran on {Gemm.Backend}");
            }
            // The parameters are about 0.1 and move by lr = 0.02 per step; the backends' products differ by float32 rounding.
            double worst = 0;
            for (int k = 0; k < results[0].Length; k++)
            {
                for (int i = 0; i < results[0][k].Length; i++)
                    worst = Math.Max(worst, Math.Abs(results[0][k][i] - results[1][k][i]));
            }
            output.WriteLine($"managed vs {(Gemm.IsOpenBlasAvailable ? "OpenBLAS" : "managed")} after 10 steps: max |difference| {worst:E2}");
            Assert.True(worst < 1e-6, $"the backends differ by {worst}");
        }
        finally
        {
            Gemm.ForceManaged = saved;
        }
    }
}

using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Optimizers;
using Kernels.Training;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Training;

/// <summary>
/// LARS (<see cref="Lars.Optimizer"/>, declared with <see cref="Reduce"/>) against a double-precision reference written
/// from the paper's Algorithm 1 with the common implementations' guards (local rate 1 when a norm is 0, eps in the
/// denominator), over 300 steps; the same bits for any thread count; the fused clip; bad hyperparameters.
/// </summary>
public sealed class LarsTests(ITestOutputHelper output)
{
    private static List<Parameter<float>> Model(int seed) => ReductionTestModel.Create(seed);

    private static void Gradients(IReadOnlyList<Parameter<float>> model, int step) => ReductionTestModel.Gradients(model, step);

    /// <summary>The reference, every quantity in double: λ = η‖w‖ / (‖g‖ + β‖w‖ + ε), v = m v + γ λ (g + β w), w -= v.</summary>
    private sealed class Reference(Parameter<float> p)
    {
        public readonly double[] Param = p.Data.ToArray().Select(x => (double)x).ToArray();
        private readonly double[] _v = new double[p.Length];

        public void Step(ReadOnlySpan<float> grad, double lr, double momentum, double wd, double eta, double eps)
        {
            double w2 = 0, g2 = 0;
            for (int i = 0; i < Param.Length; i++)
            {
                w2 += Param[i] * Param[i];
                g2 += (double)grad[i] * grad[i];
            }
            double wNorm = Math.Sqrt(w2), gNorm = Math.Sqrt(g2);
            double local = wNorm > 0 && gNorm > 0 ? eta * wNorm / (gNorm + wd * wNorm + eps) : 1;
            for (int i = 0; i < Param.Length; i++)
            {
                _v[i] = momentum * _v[i] + lr * local * (grad[i] + wd * Param[i]);
                Param[i] -= _v[i];
            }
        }
    }

    [Fact]
    public void ThreeHundredSteps_MatchADoublePrecisionReference()
    {
        const double lr = 0.5, momentum = 0.9, wd = 5e-4, eta = 0.02, eps = 1e-8;
        List<Parameter<float>> model = Model(1);
        var references = model.Select(p => new Reference(p)).ToList();
        var optimizer = new Lars.Optimizer(model, lr: lr, momentum: momentum, weightDecay: wd, trustCoefficient: eta, eps: eps);
        double worst = 0, moved = 0;
        for (int step = 1; step <= 300; step++)
        {
            Gradients(model, step);
            optimizer.Step();
            for (int k = 0; k < model.Count; k++)
                references[k].Step(model[k].Grad.Span, lr, momentum, wd, eta, eps);
        }
        List<Parameter<float>> start = Model(1);
        for (int k = 0; k < model.Count; k++)
        {
            float[] got = model[k].Data.ToArray(), initial = start[k].Data.ToArray();
            double scale = references[k].Param.Max(Math.Abs);
            for (int i = 0; i < got.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(got[i] - references[k].Param[i]) / scale);
                moved = Math.Max(moved, Math.Abs(references[k].Param[i] - initial[i]) / scale);
            }
        }
        output.WriteLine($"largest |float - double| over 300 steps, relative to the tensor's largest |p|: {worst:E2}; largest move {moved:E2}");
        // The run must move the weights (else any reading would pass), and stay within fp32 accumulation: every step
        // rounds w, v, the norms (one rounding of the fixed-order double sum) and λ to float (2^-24 ≈ 6e-8 each); 300
        // steps of such errors stay near 1e-6. A formula error (λ without β‖w‖, decay outside the momentum) moves
        // w by percent of its scale.
        Assert.True(moved > 0.05, $"the weights moved only {moved:E2} of their scale");
        Assert.True(worst < 1e-5, $"worst relative difference {worst:E2}");
    }

    [Fact]
    public void ZeroTensor_LocalRateIsOne()
    {
        // ‖w‖ = 0: the local rate is 1, so the first step is w = -lr * g (v starts at 0, no decay).
        var p = new Parameter<float>("zero", 50);
        p.Grad.Span.Fill(0.25f);
        new Lars.Optimizer(new[] { p }, lr: 0.1).Step();
        Assert.All(p.Data.ToArray(), x => Assert.Equal(-0.1f * 0.25f, x));
    }

    [Fact]
    public void AnyThreadCount_SameBits()
    {
        List<Parameter<float>> one = Model(2), three = Model(2);
        var a = new Lars.Optimizer(one, lr: 0.1, weightDecay: 1e-4, stepOptions: StepOptions.SingleThreaded);
        var b = new Lars.Optimizer(three, lr: 0.1, weightDecay: 1e-4, stepOptions: new StepOptions(maxDegreeOfParallelism: 3, parallelThreshold: 1));
        for (int step = 1; step <= 5; step++)
        {
            Gradients(one, step);
            Gradients(three, step);
            a.Step();
            b.Step();
        }
        for (int k = 0; k < one.Count; k++)
            Assert.Equal(one[k].Data.ToArray(), three[k].Data.ToArray());
    }

    [Fact]
    public void ClipGradNorm_IsTheStepOnScaledGradients()
    {
        List<Parameter<float>> clipped = Model(3), byHand = Model(3);
        var a = new Lars.Optimizer(clipped, lr: 0.1);
        var b = new Lars.Optimizer(byHand, lr: 0.1);
        for (int step = 1; step <= 3; step++)
        {
            Gradients(clipped, step);
            Gradients(byHand, step);
            double norm = a.ClipGradNorm(1.0);
            float coefficient = GradientClipping.ClipCoefficient(norm, 1.0);
            Assert.True(coefficient < 1);
            GradientClipping.Scale(byHand.Select(p => p.Grad).ToArray(), coefficient);
            a.Step();
            b.Step();
            for (int k = 0; k < clipped.Count; k++)
                Assert.Equal(byHand[k].Data.ToArray(), clipped[k].Data.ToArray());
        }
    }

    [Fact]
    public void NegativeHyperparameter_Throws_BeforeAnythingIsWritten()
    {
        List<Parameter<float>> model = Model(4);
        Gradients(model, 1);
        float[] before = model[0].Data.ToArray();
        var optimizer = new Lars.Optimizer(model, lr: -0.1);
        Assert.Equal("lr", Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.Step()).ParamName);
        Assert.Equal(before, model[0].Data.ToArray());

        float[] p = { 1, 2 }, g = { 1, 1 }, v = { 0, 0 };
        Assert.Equal("trustCoefficient", Assert.Throws<ArgumentOutOfRangeException>(() => Lars.Step(p, g, v, 0.1, trustCoefficient: -1)).ParamName);
        Assert.Equal(new float[] { 1, 2 }, p);
    }

    [Fact]
    public void SixteenBitParameters_AreRefused_ByName()
    {
        // A rule with reductions has no storage overloads yet (docs/Optimizers.md): its object takes float parameters only.
        var e = Assert.Throws<ArgumentException>(() => new Lars.Optimizer(new Parameter[] { new Parameter<Kernels.Precision.BFloat16>("w", 8) }, lr: 0.1));
        Assert.Equal("parameters", e.ParamName);
    }
}

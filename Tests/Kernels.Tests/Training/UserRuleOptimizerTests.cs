using System;
using System.Linq;
using Kernels.Training;
using Xunit;

namespace Kernels.Tests.Training;

/// <summary>A rule declared in a user project, in double, using every optimizer attribute.</summary>
public static partial class DecayedMomentum
{
    /// <summary>An arbitrary carried value: the optimizer must advance it per tensor, before each step.</summary>
    public static double NextScale(double previous, long t, double decay = 0.5) => previous * decay + t;

    /// <summary>Momentum divided by a carried scale; the velocity starts at a hyperparameter.</summary>
    [UpdateRule]
    [Hyperparameter("initialVelocity", 0.25)]
    public static void Apply(
        ref double weight, in double gradient, [InitialValue("initialVelocity")] ref double velocity,
        [StepCount] long t, [TensorState(nameof(NextScale), Initial = 1)] double scale, double lr = 0.1, double decay = 0.5)
    {
        velocity = velocity * decay + gradient;
        weight -= lr * velocity / scale + 1e-3 * t;
    }
}

public class UserRuleOptimizerTests
{
    [Fact]
    public void UserRule_InDouble_WithEveryAttribute_MatchesTheScalarRuleWithHandWrittenBookkeeping()
    {
        var a = new Parameter<double>("a", 5);
        var b = new Parameter<double>("b", 2, 3);
        var optimizer = new DecayedMomentum.ApplyOptimizer(new[] { a }, lr: 0.2, decay: 0.3, initialVelocity: -1.5);
        optimizer.AddParamGroup(new[] { b }, g => g.Decay = 0.7);

        double[] wa = new double[5], wb = new double[6];
        double[] va = Enumerable.Repeat(-1.5, 5).ToArray(), vb = Enumerable.Repeat(-1.5, 6).ToArray();
        double sa = 1, sb = 1;
        for (long t = 1; t <= 7; t++)
        {
            for (int i = 0; i < 5; i++)
                a.Grad.Span[i] = Math.Sin(t + i);
            for (int i = 0; i < 6; i++)
                b.Grad.Span[i] = Math.Cos(t * i);
            optimizer.Step();

            // The reference: the scalar rule, element by element, with the bookkeeping written out.
            sa = DecayedMomentum.NextScale(sa, t, 0.3);
            sb = DecayedMomentum.NextScale(sb, t, 0.7);
            for (int i = 0; i < 5; i++)
                DecayedMomentum.Apply(ref wa[i], Math.Sin(t + i), ref va[i], t, sa, 0.2, 0.3);
            for (int i = 0; i < 6; i++)
                DecayedMomentum.Apply(ref wb[i], Math.Cos(t * i), ref vb[i], t, sb, 0.2, 0.7);
        }
        Assert.Equal(wa, a.Data.ToArray());
        Assert.Equal(wb, b.Data.ToArray());
        Assert.Equal(sb, optimizer.StateDict().State[1]!.TensorState["scale"]);
        Assert.Equal(new[] { "decay", "initialVelocity", "lr" }, optimizer.ParamGroups[0].HyperparameterNames.OrderBy(n => n, StringComparer.Ordinal));
    }
}

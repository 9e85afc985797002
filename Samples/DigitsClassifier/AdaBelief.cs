using System;
using Kernels;

namespace DigitsClassifier;

/// <summary>
/// A rule written in a user project, exactly as in the README: AdaBelief (Zhuang et al. 2020) scales
/// the step by the belief in the gradient, the EMA of (g - m)^2, instead of Adam's EMA of g^2.
/// The generator adds its span overloads and an optimizer object, <c>AdaBelief.UpdateOptimizer</c>.
/// </summary>
public static partial class AdaBelief
{
    [UpdateRule]
    public static void Update(
        ref float param, in float grad,
        ref float m, ref float s,
        int step,                               // the step count: the optimizer object supplies it
        float lr = 1e-3f, float beta1 = 0.9f,
        float beta2 = 0.999f, float eps = 1e-16f)
    {
        m = beta1 * m + (1 - beta1) * grad;
        float d = grad - m;
        s = beta2 * s + (1 - beta2) * d * d + eps;
        float bc1 = 1 - MathF.Pow(beta1, step);
        float bc2 = 1 - MathF.Pow(beta2, step);
        param -= lr / bc1 * m / (MathF.Sqrt(s / bc2) + eps);
    }
}

using System;
using Kernels;

// Rules that reach the constructs the built-ins do not: per-element branches, selects, every GpuMath function,
// double elements, mixed float/double arithmetic, a rule with no step-invariant values. Declared here, so the
// generator gives them span overloads and GPU kernels; the tests treat them like the built-ins.
namespace Kernels.Tests.Gpu.Rules
{
    /// <summary>Per-element if / else, ternaries, Max, Min, Clamp, CopySign, Abs, Sign.</summary>
    public static partial class BranchyRule
    {
        [UpdateRule]
        public static void Update(ref float x, in float g, ref float s, float limit = 0.25f, bool mirror = false)
        {
            float a = g > 0 ? g * 3 : -g * 0.5f;
            if (x < 0 && s > 0.05f)
            {
                x = MathF.Max(x + a, -limit);
                s = s * 0.5f;
            }
            else if (mirror || g < -0.5f)
            {
                x = MathF.Min(x, a) - MathF.Sign(g) * 0.125f;
            }
            else
            {
                s = Math.Clamp(s + g, 0.001f, limit);
            }
            x = MathF.CopySign(MathF.Abs(x), g) + s * 0.5f;
        }
    }

    /// <summary>A negated Sign conversion (G15): -(float)Sign(0) is -0, which the kernel must write, not +0.</summary>
    public static partial class NegatedSignRule
    {
        [UpdateRule]
        public static void Update(ref float p, in float g) => p = -((float)MathF.Sign(MathF.Max(g, 0f)));
    }

    /// <summary>Double elements with FusedMultiplyAdd, Sqrt, Max, Abs.</summary>
    public static partial class DoubleFmaRule
    {
        [UpdateRule]
        public static void Update(ref double p, in double g, ref double v, double lr = 0.05, double beta = 0.95, int step = 2)
        {
            double correction = 1 - Math.Pow(beta, step);
            v = Math.FusedMultiplyAdd(beta, v, (1 - beta) * g * g);
            p -= lr * g / (Math.Sqrt(Math.Max(v / correction, 1e-12)) + Math.Abs(g) * 1e-3);
        }
    }

    /// <summary>Exp and Log per element.</summary>
    public static partial class ExpLogGpuRule
    {
        [UpdateRule]
        public static void Update(ref float p, in float g, float scale = 0.5f)
        {
            p = p * MathF.Exp(-scale * g * g) + MathF.Log(1 + MathF.Abs(g)) * 0.01f;
        }
    }

    /// <summary>A float rule computing in double per element.</summary>
    public static partial class MixedGpuRule
    {
        [UpdateRule]
        public static void Update(ref float p, in float g, ref float v, double lr = 0.1, double beta = 0.99)
        {
            double gd = g;
            double vd = beta * v + (1 - beta) * gd * gd;
            v = (float)vd;
            p = (float)(p - lr * gd / (Math.Sqrt(vd) + 1e-8));
        }
    }

    /// <summary>No step-invariant values at all.</summary>
    public static partial class PlainRule
    {
        [UpdateRule]
        public static void Update(ref float p, in float g) => p -= g;
    }
}

namespace Kernels.Tests.Gpu.Rules
{
    /// <summary>Rules with tensor-wide reductions: their GPU part is a reduction kernel, the combination, an update kernel.</summary>
    public static partial class ReductionGpuRules
    {
        /// <summary>LAMB-shaped: state written before the reductions, two norms, a trust ratio.</summary>
        [UpdateRule(GenerateOptimizer = false)]
        public static void TrustRatio(ref float p, in float g, ref float m, float beta = 0.9f, float lr = 0.01f)
        {
            m = beta * m + (1 - beta) * g;
            float u = m / (1 + MathF.Abs(m)) + 0.01f * p;
            float pn = MathF.Sqrt(Reduce.Sum(p * p));
            float un = MathF.Sqrt(Reduce.Sum(u * u));
            float trust = pn > 0 && un > 0 ? pn / un : 1f;
            p -= lr * trust * u;
        }

        /// <summary>A maximum and a sum, in double.</summary>
        [UpdateRule(GenerateOptimizer = false)]
        public static void MaxAndSum(ref double p, in double g, double lr = 0.5)
        {
            double largest = Reduce.Max(Math.Abs(g));
            double mean = Reduce.Sum(g);
            p -= lr * (g - mean * 1e-3) / largest;
        }
    }
}

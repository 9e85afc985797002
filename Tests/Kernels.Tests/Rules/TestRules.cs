using System;
using Kernels;

// Rules written the way a user writes them, in a namespace of their own. The generator (referenced as
// an analyzer) adds their span overloads; the numerics tests compare those with the scalar rules.
namespace Kernels.Tests.Rules
{
    /// <summary>The example: AdaBelief with bias corrections computed from the step count.</summary>
    public static partial class AdaBelief
    {
        [UpdateRule]
        public static void Update(
            ref float param, in float grad,
            ref float m, ref float s,
            float lr = 1e-3f, float beta1 = 0.9f,
            float beta2 = 0.999f, float eps = 1e-16f,
            int step = 1)
        {
            m = beta1 * m + (1 - beta1) * grad;
            float d = grad - m;
            s = beta2 * s + (1 - beta2) * d * d + eps;
            float bc1 = 1 - MathF.Pow(beta1, step);
            float bc2 = 1 - MathF.Pow(beta2, step);
            param -= lr / bc1 * m / (MathF.Sqrt(s / bc2) + eps);
        }
    }

    /// <summary>Per-element conditions everywhere: if / else if / else, ternaries, && || !, Max, Min, Clamp, CopySign, Abs.</summary>
    public static partial class SelectRule
    {
        [UpdateRule]
        public static void Update(ref float x, in float g, ref float s, float threshold = 0.5f, bool flag = true)
        {
            float a = g > threshold ? g * 2 : -g;
            bool negative = x < 0;
            if (negative && g >= 0)
            {
                float half = s * 0.5f;
                x = x + a;
                s = half;
            }
            else if (!(x > 1) || flag && g < -1f)
            {
                x = MathF.Max(x, a);
                if (s != g)
                    s -= 1;
            }
            else
            {
                s = MathF.Min(s, g);
                x++;
            }
            float c = Math.Clamp(x, -threshold, threshold);
            x = MathF.CopySign(MathF.Abs(x), g) + c * 0.25f;
            s = g <= 0 == negative ? s : -s;
        }
    }

    /// <summary>Uniform work of every kind: nested uniform branches, a uniform loop, a uniform local set in a branch, a buffer used only under a flag.</summary>
    public static partial class UniformRule
    {
        [UpdateRule]
        public static void Update(ref float p, in float g, ref float v, ref float extra, float lr = 0.01f, int step = 3, bool useExtra = false, bool maximize = false, double decay = 0.5)
        {
            float scale = 1;
            if (step > 2)
                scale = 0.5f;
            double product = 1;
            for (int k = 0; k < step; k++)
                product *= decay;
            float gg = maximize ? -g : g;
            if (useExtra)
            {
                extra = extra * (float)product + gg;
                if (step % 2 == 0)
                    gg = gg + extra;
                else
                    gg = gg - extra * scale;
            }
            v = MathF.FusedMultiplyAdd(v, (float)(1 - product), gg * gg);
            p = p - lr * scale * gg / (MathF.Sqrt(v) + 1e-8f);
        }
    }

    /// <summary>A rule over double elements.</summary>
    public static partial class DoubleRule
    {
        [UpdateRule]
        public static void Update(ref double p, in double g, ref double m, double lr = 0.1, double beta = 0.9, int step = 1, bool nesterov = true)
        {
            double correction = 1 - Math.Pow(beta, step);
            m = Math.FusedMultiplyAdd(beta, m, (1 - beta) * g);
            double d = nesterov ? g + beta * m : m;
            if (Math.Abs(d) > 10)
                d = Math.CopySign(10.0, d);
            p -= lr / correction * Math.Max(d, -Math.Sqrt(Math.Abs(m)));
        }
    }

    /// <summary>Math.Sign per element (its scalar form throws on NaN, so it is tested without NaN).</summary>
    public static partial class SignRule
    {
        [UpdateRule]
        public static void Update(ref float p, in float g, float lr = 0.5f) => p -= lr * MathF.Sign(g);
    }

    /// <summary>Exp and Log per element through MathF: the generated loops compute them with KernelMath (documented contract).</summary>
    public static partial class ExpLogRule
    {
        [UpdateRule]
        public static void Update(ref float e, ref float l, in float x)
        {
            e = MathF.Exp(x);
            l = MathF.Log(x);
        }
    }

    /// <summary>The double forms of Exp and Log.</summary>
    public static partial class ExpLogDoubleRule
    {
        [UpdateRule]
        public static void Update(ref double e, ref double l, in double x)
        {
            e = Math.Exp(x);
            l = Math.Log(x);
        }
    }

    /// <summary>A float rule that computes in double per element: widening, double math, narrowing, masks over both lane types.</summary>
    public static partial class MixedFloatRule
    {
        [UpdateRule]
        public static void Update(ref float p, in float g, ref float v, double lr = 0.1, double beta = 0.999)
        {
            double gd = g;
            double vd = beta * v + (1 - beta) * gd * gd;
            v = (float)vd;
            bool big = vd > 1e-3;
            double update = big ? lr * gd / Math.Sqrt(vd) : lr * gd;
            if (g > 0 && big)
                p = (float)(p - update);
            else
                p -= (float)update * 0.5f;
            double t = 0;
            if (p < 0)
                t = p * 2.0;
            p += (float)t;
        }
    }

    /// <summary>A double rule that narrows to float per element.</summary>
    public static partial class MixedDoubleRule
    {
        [UpdateRule]
        public static void Update(ref double p, in double g, float scale = 0.5f)
        {
            float f = (float)g;
            f = f * scale + MathF.Sqrt(MathF.Abs(f));
            if (f > 1)
                p = p + f;
            else
                p -= (double)f * 2;
            float q = 0;
            if (p < 0)
                q = f;
            p += q;
        }
    }
}

namespace Kernels.Tests.Rules
{
    /// <summary>Regression rules from the generator fuzzer: each was mis-generated before the hardening issue.</summary>
    public static partial class HardenedRules
    {
        /// <summary>G15: a negated int→float conversion must negate the float (−0 for Sign(0)), not the integer.</summary>
        [UpdateRule]
        public static void NegatedSignConversion(ref float p, in float s)
        {
            p = -((float)MathF.Sign(Math.Abs(s)));
        }

        /// <summary>Integer division by a uniform under a uniform condition: must only run when the condition holds.</summary>
        [UpdateRule]
        public static void DivideUnderCondition(ref float p, in float g, int k = 0)
        {
            if (k != 0)
            {
                int q = 100 / k;
                p -= q * g;
            }
        }

        /// <summary>The first per-element parameter is touched only under a uniform condition.</summary>
        [UpdateRule]
        public static void FirstBufferGuarded(ref float m, ref float p, in float g, bool useMomentum = false, float lr = 0.5f)
        {
            if (useMomentum)
                m = 0.9f * m + g;
            p -= lr * (useMomentum ? m : g);
        }

        /// <summary>Double negation and a uniform switch around per-element code, Pow by small integers, IsNaN per element.</summary>
        [UpdateRule]
        public static void SwitchAndIdioms(ref float p, in float g, int mode = 0, float lr = 0.25f)
        {
            switch (mode)
            {
                case 0:
                    p = -(-g) + -(-(-p));
                    break;
                case 1 or 2:
                    p -= lr * MathF.Pow(g, 2) + MathF.Pow(g, 3) * 0.5f;
                    break;
                default:
                    p = float.IsNaN(g) || float.IsInfinity(p) ? 0 : p - lr * (float)Math.Sign(g);
                    break;
            }
        }

        /// <summary>The same uniform local name in both arms of a uniform if (renamed, not rejected).</summary>
        [UpdateRule]
        public static void SameNameBothArms(ref float p, in float g, bool flag = false, float lr = 0.1f)
        {
            if (flag) { float s = lr * 2; p -= s * g; } else { float s = lr / 2; p += s * g; }
        }

        private static float Square(float x) => x * x;

        private static float Huber(float g, float delta)
        {
            float a = MathF.Abs(g);
            float q = MathF.Min(a, delta);
            return q * (a - 0.5f * q);
        }

        private static bool Small(double v) => Math.Abs(v) < 1e-3;

        /// <summary>Per-element calls of the rule's own helpers, inlined (a nested call, a helper in double, one returning bool).</summary>
        [UpdateRule]
        public static void WithHelpers(ref float p, in float g, float lr = 0.1f, float delta = 1f)
        {
            float h = Huber(g, delta);
            p -= lr * h + Square(Square(g)) * 1e-3f;
            if (Small(p))
                p = 0;
        }

        /// <summary>Uniform code that may throw, reached only for some elements: it must throw exactly when the scalar loop would.</summary>
        [UpdateRule]
        public static void ThrowsOnlyWhereReached(ref float p, in float g, ref float unused, int k = 0, float lo = 0, float hi = 1, bool flag = false)
        {
            if (g > 0)
            {
                int q = 100 / k;
                p -= q * g;
            }
            else
                p += Math.Clamp(g, lo, hi) * (float)Math.Sign(lo);
            if (flag)
                unused = p;
        }

        /// <summary>A uniform local and a parameter reassigned after per-element code read them (each read sees its own value).</summary>
        [UpdateRule]
        public static void Reassigned(ref float p, in float g, float lr = 0.5f)
        {
            float s = lr;
            p -= s * g;
            s = 2 * lr;
            p += s * g;
            lr = 10;
            p *= lr;
            s += 1;
            p -= s;
        }

        /// <summary>A bool that decides a uniform branch and is also used as a per-element value (fuzzer: CS0019 on a flag).</summary>
        [UpdateRule]
        public static void FlagAsValue(ref float m, in float g, bool flag = false)
        {
            m = flag ^ (m > g) ? 1e30f : 1f;
            if (flag)
                m += g;
        }

        /// <summary>Math.Clamp and float.Clamp differ on NaN bounds and signed zeros; both throw on min &gt; max.</summary>
        [UpdateRule]
        public static void Clamps(ref float a, ref float b, in float g, float lo = 0, float hi = 1)
        {
            a = Math.Clamp(a, lo, hi) + Math.Clamp(g, a, 1);
            b = float.Clamp(b, lo, hi) + float.Clamp(g, b, 1);
        }

        /// <summary>Validation in a rule whose only buffer is touched under a uniform condition (fuzzer: the fallback saw length 0).</summary>
        [UpdateRule]
        public static void ValidatedGuarded(ref float m, in float g, float view = 1, bool flag = false)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(view);
            if (flag)
                m = view + g;
        }

        /// <summary>An unboxing cast of a uniform reached only for some elements (it throws for a wrong box).</summary>
        [UpdateRule]
        public static void UnboxUnderCondition(ref float p, in float g, object scale)
        {
            if (g > 0)
                p -= (float)scale * g;
        }

        /// <summary>
        /// Checked calls in the right operand of a per-element <c>||</c> / <c>&amp;&amp;</c> (fuzzer G13): the rule evaluates them only for
        /// the elements the left operand leaves undecided, so they may throw only there — in a branch condition, a value and
        /// the condition of a per-element <c>if</c> nested in another.
        /// </summary>
        [UpdateRule]
        public static void ShortCircuitChecked(ref float p, in float g, float lo = 0, float hi = 1)
        {
            if (g > 0 || Math.Clamp(g, lo, hi) > 0.5f)
                p -= 0.5f * g;
            bool small = g < 1 && (float)Math.Sign(p) >= 0;
            p = small ? p + 1 : p * 0.5f;
            if (p < 100)
            {
                if (g < 2 && p > 2 || Math.Clamp(g, lo, hi) < 0.25f)
                    p += 0.25f;
            }
        }

        /// <summary><see cref="ShortCircuitChecked"/> with the last check in double (a mixed rule: half of each float vector is padding).</summary>
        [UpdateRule]
        public static void ShortCircuitCheckedMixed(ref float p, in float g, float lo = 0, float hi = 1)
        {
            if (g > 0 || Math.Clamp(g, lo, hi) > 0.5f)
                p -= 0.5f * g;
            bool small = g < 1 && (float)Math.Sign(p) >= 0;
            p = small ? p + 1 : p * 0.5f;
            if (p < 100)
            {
                if (g < 2 && p > 2 || Math.Clamp((double)g, lo, hi) < 0.25)
                    p += 0.25f;
            }
        }

        /// <summary>Validation the docs recommend: a throw helper and a thrown exception in uniform code.</summary>
        [UpdateRule]
        public static void Validated(ref float p, in float g, float lr = 0.1f)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(lr);
            if (float.IsNaN(lr)) throw new ArgumentOutOfRangeException(nameof(lr));
            p -= lr * g;
        }
    }
}

namespace Kernels.Tests.Rules
{
    /// <summary>A rule that calls KernelMath itself: its scalar form and its generated loops give the same bits.</summary>
    public static partial class KernelMathRule
    {
        [UpdateRule]
        public static void Update(ref float p, in float g, float lr = 0.5f)
        {
            float softplus = KernelMath.Log(1 + KernelMath.Exp(g));
            p = p - lr * softplus + (float)KernelMath.Exp((double)g * 0.25);
        }
    }
}

namespace Kernels.Tests.Rules
{
    /// <summary>Rules with tensor-wide reductions (<see cref="Kernels.Reduce"/>): two passes per tensor.</summary>
    public static partial class ReductionRules
    {
        /// <summary>Normalized gradient descent: every tensor moves by lr in the direction of its gradient.</summary>
        [UpdateRule(GenerateOptimizer = false)]
        public static void Normalized(ref float p, in float g, float lr = 0.1f)
        {
            float norm = MathF.Sqrt(Reduce.Sum(g * g));
            p -= norm > 0 ? lr * g / norm : 0f;
        }
    }
}

namespace Kernels.Tests.Rules
{
    public static partial class ReductionRules
    {
        /// <summary>A step scaled by the largest |g| of the tensor (Reduce.Max: NaN propagates).</summary>
        [UpdateRule(GenerateOptimizer = false)]
        public static void MaxScaled(ref float p, in float g, float lr = 0.5f)
        {
            float largest = Reduce.Max(MathF.Abs(g));
            p -= lr * g / largest;
        }

        /// <summary>
        /// LAMB-shaped: state written before the reductions (the reduction pass must not write it, the update pass
        /// must write it once), an update direction both passes compute, two norms, a trust ratio.
        /// </summary>
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
    }
}

using System;
using TorchSharp;
using static TorchSharp.torch;

namespace Kernels.Tests.Parity.Harness;

/// <summary>Small helpers that spell PyTorch's Python-level operations with TorchSharp.</summary>
public static class TorchOps
{
    /// <summary>
    /// When set, <see cref="Sqrt"/> and <see cref="Sqrt_"/> round correctly (through float64) instead of calling
    /// libtorch's float32 sqrt. On tensors this long, libtorch's CPU sqrt goes through a vectorized math library
    /// that is not correctly rounded (about one value in six is one ulp off; .NET's MathF.Sqrt and the hardware's
    /// sqrtps are correctly rounded), which is the one operation whose bits the kernels cannot reproduce. With it
    /// replaced, the references must agree with the kernels bit for bit (see <see cref="ParityRunner"/>).
    /// </summary>
    [ThreadStatic]
    public static bool CorrectlyRoundedSqrt;

    /// <summary><c>t.sqrt()</c>.</summary>
    public static Tensor Sqrt(Tensor t)
    {
        if (!CorrectlyRoundedSqrt)
            return t.sqrt();
        using var wide = t.to(ScalarType.Float64);
        using var root = wide.sqrt();
        return root.to(ScalarType.Float32);
    }

    /// <summary><c>t.sqrt_()</c>.</summary>
    public static Tensor Sqrt_(Tensor t)
    {
        if (!CorrectlyRoundedSqrt)
            return t.sqrt_();
        using var root = Sqrt(t);
        return t.copy_(root);
    }

    /// <summary><c>start.lerp_(end, weight)</c> with a Python-float weight: ATen rounds the weight to float, as the 0-dim float32 tensor here does.</summary>
    public static Tensor Lerp_(Tensor start, Tensor end, double weight)
    {
        using var w = tensor((float)weight);
        return start.lerp_(end, w);
    }

    /// <summary><c>-grad</c> when maximizing, else <paramref name="grad"/> itself.</summary>
    public static Tensor MaybeNegate(Tensor grad, bool maximize) => maximize ? grad.neg() : grad;
}

using System;
using Kernels;
using Kernels.Matrices;
using Kernels.Training;

namespace HeavyTailedClasses;

/// <summary>
/// Softmax regression, the paper's linear model: logits <c>z = x · W + b</c>, cross-entropy, with the backward pass
/// written out. The weights and biases are <see cref="Parameter{T}"/>s, so an optimizer object updates them in place.
/// </summary>
/// <remarks>
/// A batch's logits are one matrix product, <c>Z = X · W</c> ([batch, features] × [features, classes]), and the weight
/// gradient another, <c>Xᵀ · dZ</c>: both run on the library's <see cref="Gemm"/>, its managed kernel, chosen over
/// OpenBLAS so that a run's bits depend neither on whether OpenBLAS is installed nor on the number of threads (the
/// managed kernel sums every element in the same order however the rows are split).
/// </remarks>
public sealed class SoftmaxRegression
{
    private float[] _logits = [];

    /// <summary>Creates the model with zero weights and biases: every class starts at probability 1 / classes.</summary>
    public SoftmaxRegression(int features, int classes)
    {
        Features = features;
        Classes = classes;
        Weight = new Parameter<float>("weight", features, classes);
        Bias = new Parameter<float>("bias", classes);
    }

    /// <summary>The input length.</summary>
    public int Features { get; }

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>The weights, [features, classes] (input-major: the transpose of <c>torch.nn.Linear</c>'s weight).</summary>
    public Parameter<float> Weight { get; }

    /// <summary>The biases, [classes].</summary>
    public Parameter<float> Bias { get; }

    /// <summary>
    /// Runs the batch forward and backward: adds the gradient of the batch's mean cross-entropy to
    /// <see cref="Parameter{T}.Grad"/> of both parameters (zero them first) and returns that mean.
    /// </summary>
    /// <param name="inputs">The batch's inputs, one row of <see cref="Features"/> floats per sample.</param>
    /// <param name="labels">The batch's classes.</param>
    public float ForwardBackward(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels)
    {
        int batch = labels.Length;
        Span<float> z = Forward(inputs, batch);
        double lossSum = 0;
        float inverseBatch = 1f / batch;
        Span<float> biasGrad = Bias.Grad.Span;
        for (int i = 0; i < batch; i++)
        {
            // dL/dz = (softmax(z) - onehot) / batch, written over the logits.
            Span<float> row = z.Slice(i * Classes, Classes);
            lossSum += SoftmaxCrossEntropy(row, labels[i], inverseBatch);
            for (int k = 0; k < Classes; k++)
                biasGrad[k] += row[k];
        }
        // dW += Xᵀ · dZ: [features, batch] × [batch, classes].
        Gemm.Multiply(GemmBackend.Managed, transposeA: true, transposeB: false, Features, Classes, batch,
            1f, inputs, Features, z, Classes, 1f, Weight.Grad.Span, Classes);
        return (float)(lossSum / batch);
    }

    /// <summary>Writes each sample's cross-entropy to <paramref name="losses"/> (no gradients).</summary>
    public void Losses(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, Span<double> losses)
    {
        Span<float> z = Forward(inputs, labels.Length);
        for (int i = 0; i < labels.Length; i++)
            losses[i] = SoftmaxCrossEntropy(z.Slice(i * Classes, Classes), labels[i], gradientScale: 0);
    }

    // Z = X · W + b into the scratch buffer, grown as needed.
    private Span<float> Forward(ReadOnlySpan<float> inputs, int batch)
    {
        if (_logits.Length < batch * Classes)
            _logits = new float[batch * Classes];
        Span<float> z = _logits.AsSpan(0, batch * Classes);
        Gemm.Multiply(GemmBackend.Managed, transposeA: false, transposeB: false, batch, Classes, Features,
            1f, inputs, Features, Weight.Data.Span, Classes, 0f, z, Classes);
        ReadOnlySpan<float> bias = Bias.Data.Span;
        for (int i = 0; i < batch; i++)
        {
            Span<float> row = z.Slice(i * Classes, Classes);
            for (int k = 0; k < Classes; k++)
                row[k] += bias[k];
        }
        return z;
    }

    // -log softmax(z)[label], from z - max(z). Overwrites z: with gradientScale · (softmax(z) - onehot(label)), or
    // with scratch when gradientScale is 0 (no gradient wanted). KernelMath's Exp and Log (within 1 ulp) give the same
    // bits on every machine and vector width, where the C runtime's may differ in the last bit; the sum runs in index order.
    private static double SoftmaxCrossEntropy(Span<float> z, int label, float gradientScale)
    {
        float max = z[0];
        for (int k = 1; k < z.Length; k++)
            max = MathF.Max(max, z[k]);
        float labelLogit = z[label] - max;
        SoftmaxMath.ExpShifted(z, max);
        double sum = 0;
        for (int k = 0; k < z.Length; k++)
            sum += z[k];
        if (gradientScale != 0)
        {
            float inverseSum = (float)(1 / sum);
            for (int k = 0; k < z.Length; k++)
                z[k] = gradientScale * (z[k] * inverseSum - (k == label ? 1f : 0f));
        }
        return KernelMath.Log(sum) - labelLogit;
    }
}

using System;
using System.Collections.Generic;
using System.Numerics.Tensors;
using Kernels;
using Kernels.Training;

namespace DigitsClassifier;

/// <summary>
/// A 64-32-10 perceptron: linear, ReLU, linear, softmax cross-entropy, with its backward pass written out. The
/// weights and biases are <see cref="Parameter{T}"/>s, so an optimizer object updates them in place.
/// </summary>
/// <remarks>
/// Weights are stored input-major (<c>z = x · W + b</c>, shape [in, out]: the transpose of <c>torch.nn.Linear</c>'s
/// weight), so every inner loop of the forward and backward pass is an element-wise "row += a · row" over a layer's
/// outputs (<see cref="TensorPrimitives.MultiplyAdd(ReadOnlySpan{float}, float, ReadOnlySpan{float}, Span{float})"/>,
/// vectorized). Element-wise operations round the same at every vector width, and the few sums are plain loops in a
/// fixed order, so a seed gives the same bits at every vector width.
/// </remarks>
public sealed class Mlp
{
    /// <summary>Hidden units.</summary>
    public const int Hidden = 32;

    private const int In = Digits.Features, Out = Digits.Classes;

    // Per-sample scratch: pre-activations, activations, their gradients.
    private readonly float[] _z1 = new float[Hidden], _h1 = new float[Hidden], _z2 = new float[Out];
    private readonly float[] _dz1 = new float[Hidden], _dz2 = new float[Out];

    /// <summary>Creates the model: He-uniform first layer, Xavier-uniform second layer, zero biases.</summary>
    /// <param name="seed">The seed of the initialization.</param>
    public Mlp(int seed)
    {
        W1 = new Parameter<float>("fc1.weight", In, Hidden);
        B1 = new Parameter<float>("fc1.bias", Hidden);
        W2 = new Parameter<float>("fc2.weight", Hidden, Out);
        B2 = new Parameter<float>("fc2.bias", Out);
        var random = new Random(seed);
        FillUniform(W1.Data.Span, MathF.Sqrt(6f / In), random);            // He (Kaiming) uniform: a ReLU follows
        FillUniform(W2.Data.Span, MathF.Sqrt(6f / (Hidden + Out)), random); // Xavier (Glorot) uniform: the softmax follows
    }

    /// <summary>First layer's weights, [64, 32].</summary>
    public Parameter<float> W1 { get; }

    /// <summary>First layer's biases, [32].</summary>
    public Parameter<float> B1 { get; }

    /// <summary>Second layer's weights, [32, 10].</summary>
    public Parameter<float> W2 { get; }

    /// <summary>Second layer's biases, [10].</summary>
    public Parameter<float> B2 { get; }

    /// <summary>The weight matrices (weight decay applies to these).</summary>
    public IReadOnlyList<Parameter<float>> Weights => [W1, W2];

    /// <summary>Every parameter: <see cref="Weights"/>, then <see cref="Biases"/>.</summary>
    public IReadOnlyList<Parameter<float>> All => [W1, W2, B1, B2];

    /// <summary>The biases (no weight decay).</summary>
    public IReadOnlyList<Parameter<float>> Biases => [B1, B2];

    /// <summary>
    /// Runs the batch <paramref name="rows"/> of <paramref name="data"/> forward and backward: adds the gradient of the
    /// batch's mean cross-entropy to each parameter's <see cref="Parameter{T}.Grad"/> (zero them first) and returns that mean.
    /// </summary>
    /// <param name="lossScale">What the loss is multiplied by before the backward pass (a <see cref="GradScaler"/>'s scale; the returned loss is not scaled).</param>
    public float ForwardBackward(DigitsSet data, ReadOnlySpan<int> rows, float lossScale = 1)
    {
        Span<float> w1 = W1.Data.Span, w2 = W2.Data.Span;
        Span<float> gw1 = W1.Grad.Span, gb1 = B1.Grad.Span, gw2 = W2.Grad.Span, gb2 = B2.Grad.Span;
        float inverseBatch = lossScale / rows.Length;
        double lossSum = 0;
        foreach (int row in rows)
        {
            ReadOnlySpan<float> x = data.Image(row);
            int label = data.Labels[row];
            Forward(x);
            lossSum += SoftmaxCrossEntropy(_z2, label, _dz2);

            // dL/dz2 = (softmax - onehot) / B, times the loss scale (SoftmaxCrossEntropy left softmax - onehot in _dz2).
            TensorPrimitives.Multiply(_dz2, inverseBatch, _dz2);
            // fc2: dW2[j, :] += h1[j] dz2, db2 += dz2; dh1[j] = W2[j, :] · dz2, through the ReLU.
            TensorPrimitives.Add(gb2, _dz2, gb2);
            for (int j = 0; j < Hidden; j++)
            {
                Span<float> gw2Row = gw2.Slice(j * Out, Out);
                TensorPrimitives.MultiplyAdd(_dz2, _h1[j], gw2Row, gw2Row);
                float dh = 0;
                ReadOnlySpan<float> w2Row = w2.Slice(j * Out, Out);
                for (int k = 0; k < Out; k++)
                    dh += w2Row[k] * _dz2[k];
                _dz1[j] = _z1[j] > 0 ? dh : 0;
            }
            // fc1: dW1[i, :] += x[i] dz1, db1 += dz1.
            TensorPrimitives.Add(gb1, _dz1, gb1);
            for (int i = 0; i < In; i++)
            {
                Span<float> gw1Row = gw1.Slice(i * Hidden, Hidden);
                TensorPrimitives.MultiplyAdd(_dz1, x[i], gw1Row, gw1Row);
            }
        }
        return (float)(lossSum / rows.Length);
    }

    /// <summary>The fraction of <paramref name="data"/>'s images whose largest logit is at their label.</summary>
    public double Accuracy(DigitsSet data)
    {
        int correct = 0;
        for (int row = 0; row < data.Count; row++)
        {
            Forward(data.Image(row));
            int best = 0;
            for (int k = 1; k < Out; k++)
            {
                if (_z2[k] > _z2[best])
                    best = k;
            }
            if (best == data.Labels[row])
                correct++;
        }
        return (double)correct / data.Count;
    }

    /// <summary>The mean cross-entropy over the images <paramref name="rows"/> of <paramref name="data"/> (no gradients).</summary>
    public double Loss(DigitsSet data, ReadOnlySpan<int> rows)
    {
        double sum = 0;
        foreach (int row in rows)
        {
            Forward(data.Image(row));
            sum += SoftmaxCrossEntropy(_z2, data.Labels[row], _dz2);
        }
        return sum / rows.Length;
    }

    // z1 = x · W1 + b1, h1 = relu(z1), z2 = h1 · W2 + b2.
    private void Forward(ReadOnlySpan<float> x)
    {
        ReadOnlySpan<float> w1 = W1.Data.Span, w2 = W2.Data.Span;
        B1.Data.Span.CopyTo(_z1);
        for (int i = 0; i < In; i++)
            TensorPrimitives.MultiplyAdd(w1.Slice(i * Hidden, Hidden), x[i], _z1, _z1);
        TensorPrimitives.Max(_z1, 0f, _h1);
        B2.Data.Span.CopyTo(_z2);
        for (int j = 0; j < Hidden; j++)
            TensorPrimitives.MultiplyAdd(w2.Slice(j * Out, Out), _h1[j], _z2, _z2);
    }

    // -log softmax(z)[label], computed from z - max(z); writes softmax(z) - onehot(label) to gradient. KernelMath's Exp
    // and Log (within 1 ulp) give the same bits on every machine, where the C runtime's may differ in the last bit.
    private static double SoftmaxCrossEntropy(ReadOnlySpan<float> z, int label, Span<float> gradient)
    {
        float max = z[0];
        for (int k = 1; k < z.Length; k++)
            max = MathF.Max(max, z[k]);
        double sum = 0;
        for (int k = 0; k < z.Length; k++)
            sum += KernelMath.Exp((double)(z[k] - max));
        for (int k = 0; k < z.Length; k++)
            gradient[k] = (float)(KernelMath.Exp((double)(z[k] - max)) / sum) - (k == label ? 1f : 0f);
        return KernelMath.Log(sum) - (z[label] - max);
    }

    // Uniform on [-bound, bound) (variance bound² / 3): no transcendental function, so the same bits everywhere.
    private static void FillUniform(Span<float> values, float bound, Random random)
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = bound * (float)(2 * random.NextDouble() - 1);
    }
}

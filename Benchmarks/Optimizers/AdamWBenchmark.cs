using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;
using TorchSharp;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Kernels.Benchmarks.Optimizers;

/// <summary>AdamW with PyTorch's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 1e-2, no AMSGrad) at step 10.</summary>
[StreamedBytes(28, "read p,g,m,v; write p,m,v")]
public unsafe class AdamWBenchmark : OptimizerBenchmark
{
    private const int StepNumber = 10;
    private const double Lr = 1e-3, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8, WeightDecay = 1e-2;

    /// <inheritdoc />
    protected override int StateCount => 2;

    /// <inheritdoc />
    protected override void FillState(NativeBuffers buffers)
    {
        buffers.Fill(2, -1e-3f, 1e-3f, 3);  // m
        buffers.Fill(3, 1e-6f, 1e-4f, 4);   // v
    }

    /// <inheritdoc />
    protected override void RooflineChunk(int start, int length) =>
        Roofline.ReadWrite3Read1(P + start, S(0) + start, S(1) + start, G + start, length);

    /// <inheritdoc />
    protected override void GeneratedStep() =>
        AdamW.Step(PSpan, GSpan, SSpan(0), SSpan(1), default, StepNumber, Lr, Beta1, Beta2, Eps, WeightDecay, options: Options);

    /// <inheritdoc />
    protected override void NaiveScalarStep()
    {
        float* p = P, g = G, m = S(0), v = S(1);
        float unused = 0;
        for (int i = 0; i < Size; i++)
            AdamW.Step(ref p[i], in g[i], ref m[i], ref v[i], ref unused, StepNumber, Lr, Beta1, Beta2, Eps, WeightDecay);
    }

    /// <summary>Hoisted once per step, as an expert would.</summary>
    private readonly record struct Constants(float Decay, float Weight, float Beta2, float OneMinusBeta2, float BiasCorrection2Sqrt, float Eps, float StepSize)
    {
        public static Constants Create()
        {
            double biasCorrection1 = 1 - Math.Pow(Beta1, StepNumber);
            double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(AdamWBenchmark.Beta2, StepNumber));
            return new((float)(1 - Lr * WeightDecay), (float)(1 - Beta1), (float)AdamWBenchmark.Beta2, (float)(1 - AdamWBenchmark.Beta2),
                (float)biasCorrection2Sqrt, (float)AdamWBenchmark.Eps, (float)(-Lr / biasCorrection1));
        }
    }

    /// <summary>The fused loop, specialised to this configuration; the same operations as the rule (bit-identical).</summary>
    protected override void HandFusedChunk(int start, int length)
    {
        var c = Constants.Create();
        float* p = P + start, g = G + start, m = S(0) + start, v = S(1) + start;
        var decay = Vector512.Create(c.Decay);
        var weight = Vector512.Create(c.Weight);
        var beta2 = Vector512.Create(c.Beta2);
        var oneMinusBeta2 = Vector512.Create(c.OneMinusBeta2);
        var bc2 = Vector512.Create(c.BiasCorrection2Sqrt);
        var eps = Vector512.Create(c.Eps);
        var stepSize = Vector512.Create(c.StepSize);
        int i = 0;
        for (; i <= length - 32; i += 32)
        {
            Body(p, g, m, v, i, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize);
            Body(p, g, m, v, i + 16, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize);
        }
        for (; i <= length - 16; i += 16)
            Body(p, g, m, v, i, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize);
        for (; i < length; i++)
        {
            float gi = g[i];
            float pi = p[i] * c.Decay;
            float mi = MathF.FusedMultiplyAdd(c.Weight, gi - m[i], m[i]);
            float vi = MathF.FusedMultiplyAdd(c.OneMinusBeta2 * gi, gi, v[i] * c.Beta2);
            float denom = MathF.Sqrt(vi) / c.BiasCorrection2Sqrt + c.Eps;
            p[i] = pi + c.StepSize * mi / denom;
            m[i] = mi;
            v[i] = vi;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Body(float* p, float* g, float* m, float* v, int i,
        Vector512<float> decay, Vector512<float> weight, Vector512<float> beta2, Vector512<float> oneMinusBeta2,
        Vector512<float> bc2, Vector512<float> eps, Vector512<float> stepSize)
    {
        var gv = Vector512.Load(g + i);
        var mv = Vector512.Load(m + i);
        var vv = Vector512.Load(v + i);
        var pv = Vector512.Load(p + i) * decay;
        mv = Vector512.FusedMultiplyAdd(weight, gv - mv, mv);
        vv = Vector512.FusedMultiplyAdd(oneMinusBeta2 * gv, gv, vv * beta2);
        var denom = Vector512.Sqrt(vv) / bc2 + eps;
        Vector512.Store(pv + stepSize * mv / denom, p + i);
        Vector512.Store(mv, m + i);
        Vector512.Store(vv, v + i);
    }

    /// <summary>One TensorPrimitives call per operation of the rule: 11 passes over memory.</summary>
    protected override void TensorPrimitivesChunk(int start, int length)
    {
        var c = Constants.Create();
        var p = new Span<float>(P + start, length);
        var g = new ReadOnlySpan<float>(G + start, length);
        var m = new Span<float>(S(0) + start, length);
        var v = new Span<float>(S(1) + start, length);
        var t = new Span<float>(Scratch(0) + start, length);
        TP.Multiply(p, c.Decay, p);                       // p *= 1 - lr * wd
        TP.Lerp(m, g, c.Weight, m);                       // m = lerp(m, g, 1 - beta1)
        TP.Multiply(v, c.Beta2, v);                       // v *= beta2
        TP.Multiply(g, g, t);                             // t = g * g
        TP.FusedMultiplyAdd(t, c.OneMinusBeta2, v, v);    // v += (1 - beta2) * g * g
        TP.Sqrt(v, t);                                    // t = sqrt(v)
        TP.Divide(t, c.BiasCorrection2Sqrt, t);           // t /= sqrt(bc2)
        TP.Add(t, c.Eps, t);                              // t += eps
        TP.Divide(m, t, t);                               // t = m / denom
        TP.FusedMultiplyAdd(t, c.StepSize, p, p);         // p += -lr / bc1 * t
    }

    /// <inheritdoc />
    protected override TorchStep CreateTorchStep(int size)
    {
        var parameters = TorchOptimizerStep.MakeParameters([size]);
        return new TorchOptimizerStep(torch.optim.AdamW(parameters, Lr, Beta1, Beta2, Eps, WeightDecay), [.. parameters]);
    }
}

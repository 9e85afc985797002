using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;
using TorchSharp;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Kernels.Benchmarks.Optimizers;

/// <summary>RMSprop with PyTorch's defaults (lr 1e-2, alpha 0.99, eps 1e-8, no momentum, not centered, no weight decay).</summary>
[StreamedBytes(20, "read p,g,sq; write p,sq")]
public unsafe class RMSpropBenchmark : OptimizerBenchmark
{
    private const double Lr = 1e-2, Alpha = 0.99, Eps = 1e-8;

    /// <inheritdoc />
    protected override int StateCount => 1;

    /// <inheritdoc />
    protected override void FillState(NativeBuffers buffers) => buffers.Fill(2, 1e-6f, 1e-4f, 3);

    /// <inheritdoc />
    protected override void RooflineChunk(int start, int length) =>
        Roofline.ReadWrite2Read1(P + start, S(0) + start, G + start, length);

    /// <inheritdoc />
    protected override void GeneratedStep() =>
        RMSprop.Step(PSpan, GSpan, SSpan(0), default, default, Lr, Alpha, Eps, options: Options);

    /// <inheritdoc />
    protected override void NaiveScalarStep()
    {
        float* p = P, g = G, s = S(0);
        float unusedGradAvg = 0, unusedMomentum = 0;
        for (int i = 0; i < Size; i++)
            RMSprop.Step(ref p[i], in g[i], ref s[i], ref unusedGradAvg, ref unusedMomentum, Lr, Alpha, Eps);
    }

    /// <summary>The fused loop, specialised to this configuration; the same operations as the rule (bit-identical).</summary>
    protected override void HandFusedChunk(int start, int length)
    {
        float* p = P + start, g = G + start, s = S(0) + start;
        float alpha = (float)Alpha, oneMinusAlpha = (float)(1 - Alpha), eps = (float)Eps, minusLr = (float)-Lr;
        var av = Vector512.Create(alpha);
        var ov = Vector512.Create(oneMinusAlpha);
        var ev = Vector512.Create(eps);
        var lv = Vector512.Create(minusLr);
        int i = 0;
        for (; i <= length - 32; i += 32)
        {
            Body(p, g, s, i, av, ov, ev, lv);
            Body(p, g, s, i + 16, av, ov, ev, lv);
        }
        for (; i <= length - 16; i += 16)
            Body(p, g, s, i, av, ov, ev, lv);
        for (; i < length; i++)
        {
            float gi = g[i];
            float si = MathF.FusedMultiplyAdd(oneMinusAlpha * gi, gi, s[i] * alpha);
            s[i] = si;
            p[i] = p[i] + minusLr * gi / (MathF.Sqrt(si) + eps);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Body(float* p, float* g, float* s, int i, Vector512<float> alpha, Vector512<float> oneMinusAlpha, Vector512<float> eps, Vector512<float> minusLr)
    {
        var gv = Vector512.Load(g + i);
        var sv = Vector512.FusedMultiplyAdd(oneMinusAlpha * gv, gv, Vector512.Load(s + i) * alpha);
        Vector512.Store(sv, s + i);
        Vector512.Store(Vector512.Load(p + i) + minusLr * gv / (Vector512.Sqrt(sv) + eps), p + i);
    }

    /// <summary>7 TensorPrimitives passes.</summary>
    protected override void TensorPrimitivesChunk(int start, int length)
    {
        var p = new Span<float>(P + start, length);
        var g = new ReadOnlySpan<float>(G + start, length);
        var s = new Span<float>(S(0) + start, length);
        var t = new Span<float>(Scratch(0) + start, length);
        TP.Multiply(s, (float)Alpha, s);                  // sq *= alpha
        TP.Multiply(g, g, t);                             // t = g * g
        TP.FusedMultiplyAdd(t, (float)(1 - Alpha), s, s); // sq += (1 - alpha) * g * g
        TP.Sqrt(s, t);                                    // t = sqrt(sq)
        TP.Add(t, (float)Eps, t);                         // t += eps
        TP.Divide(g, t, t);                               // t = g / t
        TP.FusedMultiplyAdd(t, (float)-Lr, p, p);         // p -= lr * t
    }

    /// <inheritdoc />
    protected override TorchStep CreateTorchStep(int size)
    {
        var parameters = TorchOptimizerStep.MakeParameters([size]);
        return new TorchOptimizerStep(torch.optim.RMSProp(parameters, Lr, Alpha, Eps), [.. parameters]);
    }
}

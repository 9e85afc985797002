using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;
using TorchSharp;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Kernels.Benchmarks.Optimizers;

/// <summary>Adagrad with PyTorch's defaults (lr 1e-2, no lr decay, no weight decay, eps 1e-10) at step 10.</summary>
[StreamedBytes(20, "read p,g,sum; write p,sum")]
public unsafe class AdagradBenchmark : OptimizerBenchmark
{
    private const int StepNumber = 10;
    private const double Lr = 1e-2, LrDecay = 0, Eps = 1e-10;

    /// <inheritdoc />
    protected override int StateCount => 1;

    /// <inheritdoc />
    protected override void FillState(NativeBuffers buffers) => buffers.Fill(2, 1e-4f, 1e-3f, 3);

    /// <inheritdoc />
    protected override void RooflineChunk(int start, int length) =>
        Roofline.ReadWrite2Read1(P + start, S(0) + start, G + start, length);

    /// <inheritdoc />
    protected override void GeneratedStep() =>
        Adagrad.Step(PSpan, GSpan, SSpan(0), StepNumber, Lr, LrDecay, options: Options);

    /// <inheritdoc />
    protected override void NaiveScalarStep()
    {
        float* p = P, g = G, s = S(0);
        for (int i = 0; i < Size; i++)
            Adagrad.Step(ref p[i], in g[i], ref s[i], StepNumber, Lr, LrDecay);
    }

    private static float MinusClr => (float)-(Lr / (1 + (StepNumber - 1) * LrDecay));

    /// <summary>The fused loop, specialised to this configuration; the same operations as the rule (bit-identical).</summary>
    protected override void HandFusedChunk(int start, int length)
    {
        float* p = P + start, g = G + start, s = S(0) + start;
        float minusClr = MinusClr, eps = (float)Eps;
        var cv = Vector512.Create(minusClr);
        var ev = Vector512.Create(eps);
        int i = 0;
        for (; i <= length - 32; i += 32)
        {
            Body(p, g, s, i, cv, ev);
            Body(p, g, s, i + 16, cv, ev);
        }
        for (; i <= length - 16; i += 16)
            Body(p, g, s, i, cv, ev);
        for (; i < length; i++)
        {
            float gi = g[i];
            float si = MathF.FusedMultiplyAdd(gi, gi, s[i]);
            s[i] = si;
            p[i] = p[i] + minusClr * gi / (MathF.Sqrt(si) + eps);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Body(float* p, float* g, float* s, int i, Vector512<float> minusClr, Vector512<float> eps)
    {
        var gv = Vector512.Load(g + i);
        var sv = Vector512.FusedMultiplyAdd(gv, gv, Vector512.Load(s + i));
        Vector512.Store(sv, s + i);
        Vector512.Store(Vector512.Load(p + i) + minusClr * gv / (Vector512.Sqrt(sv) + eps), p + i);
    }

    /// <summary>5 TensorPrimitives passes.</summary>
    protected override void TensorPrimitivesChunk(int start, int length)
    {
        var p = new Span<float>(P + start, length);
        var g = new ReadOnlySpan<float>(G + start, length);
        var s = new Span<float>(S(0) + start, length);
        var t = new Span<float>(Scratch(0) + start, length);
        TP.FusedMultiplyAdd(g, g, s, s);          // sum += g * g
        TP.Sqrt(s, t);                            // t = sqrt(sum)
        TP.Add(t, (float)Eps, t);                 // t += eps
        TP.Divide(g, t, t);                       // t = g / t
        TP.FusedMultiplyAdd(t, MinusClr, p, p);   // p -= clr * t
    }

    /// <inheritdoc />
    protected override TorchStep CreateTorchStep(int size)
    {
        var parameters = TorchOptimizerStep.MakeParameters([size]);
        return new TorchOptimizerStep(torch.optim.Adagrad(parameters, Lr, LrDecay, eps: Eps), [.. parameters]);
    }
}

using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;
using TorchSharp;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Kernels.Benchmarks.Optimizers;

/// <summary>SGD with momentum 0.9 (lr 1e-3, no dampening, no Nesterov, no weight decay), a step after the first.</summary>
[StreamedBytes(20, "read p,g,buf; write p,buf")]
public unsafe class SgdMomentumBenchmark : OptimizerBenchmark
{
    private const int StepNumber = 10;
    private const double Lr = 1e-3, Momentum = 0.9, Dampening = 0;

    /// <inheritdoc />
    protected override int StateCount => 1;

    /// <inheritdoc />
    protected override int ScratchCount => 0;

    /// <inheritdoc />
    protected override void FillState(NativeBuffers buffers) => buffers.Fill(2, -1e-2f, 1e-2f, 3);

    /// <inheritdoc />
    protected override void RooflineChunk(int start, int length) =>
        Roofline.ReadWrite2Read1(P + start, S(0) + start, G + start, length);

    /// <inheritdoc />
    protected override void GeneratedStep() =>
        SGD.Step(PSpan, GSpan, SSpan(0), Lr, StepNumber, Momentum, Dampening, options: Options);

    /// <inheritdoc />
    protected override void NaiveScalarStep()
    {
        float* p = P, g = G, b = S(0);
        for (int i = 0; i < Size; i++)
            SGD.Step(ref p[i], in g[i], ref b[i], Lr, StepNumber, Momentum, Dampening);
    }

    /// <summary>The fused loop, specialised to this configuration; the same operations as the rule (bit-identical).</summary>
    protected override void HandFusedChunk(int start, int length)
    {
        float* p = P + start, g = G + start, b = S(0) + start;
        float momentum = (float)Momentum, oneMinusDampening = (float)(1 - Dampening), minusLr = (float)-Lr;
        var mv = Vector512.Create(momentum);
        var dv = Vector512.Create(oneMinusDampening);
        var lv = Vector512.Create(minusLr);
        int i = 0;
        for (; i <= length - 32; i += 32)
        {
            Body(p, g, b, i, mv, dv, lv);
            Body(p, g, b, i + 16, mv, dv, lv);
        }
        for (; i <= length - 16; i += 16)
            Body(p, g, b, i, mv, dv, lv);
        for (; i < length; i++)
        {
            float bi = MathF.FusedMultiplyAdd(g[i], oneMinusDampening, b[i] * momentum);
            b[i] = bi;
            p[i] = MathF.FusedMultiplyAdd(bi, minusLr, p[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Body(float* p, float* g, float* b, int i, Vector512<float> momentum, Vector512<float> oneMinusDampening, Vector512<float> minusLr)
    {
        var bv = Vector512.FusedMultiplyAdd(Vector512.Load(g + i), oneMinusDampening, Vector512.Load(b + i) * momentum);
        Vector512.Store(bv, b + i);
        Vector512.Store(Vector512.FusedMultiplyAdd(bv, minusLr, Vector512.Load(p + i)), p + i);
    }

    /// <summary>3 TensorPrimitives passes.</summary>
    protected override void TensorPrimitivesChunk(int start, int length)
    {
        var p = new Span<float>(P + start, length);
        var g = new ReadOnlySpan<float>(G + start, length);
        var b = new Span<float>(S(0) + start, length);
        TP.Multiply(b, (float)Momentum, b);                       // buf *= momentum
        TP.FusedMultiplyAdd(g, (float)(1 - Dampening), b, b);     // buf += (1 - dampening) * g
        TP.FusedMultiplyAdd(b, (float)-Lr, p, p);                 // p -= lr * buf
    }

    /// <inheritdoc />
    protected override TorchStep CreateTorchStep(int size)
    {
        var parameters = TorchOptimizerStep.MakeParameters([size]);
        return new TorchOptimizerStep(torch.optim.SGD(parameters, Lr, Momentum, Dampening), [.. parameters]);
    }
}

using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;
using TorchSharp;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Kernels.Benchmarks.Optimizers;

/// <summary>
/// Lion (lr 1e-4, betas 0.9/0.99, weight decay 0.1: the decay a Lion user sets, 3-10x AdamW's). TorchSharp has no
/// Lion, so its column is lion-pytorch's step written with TorchSharp tensor operations, as a .NET user would port it.
/// </summary>
[StreamedBytes(20, "read p,g,m; write p,m")]
public unsafe class LionBenchmark : OptimizerBenchmark
{
    private const double Lr = 1e-4, Beta1 = 0.9, Beta2 = 0.99, WeightDecay = 0.1;

    /// <inheritdoc />
    protected override int StateCount => 1;

    /// <inheritdoc />
    protected override void FillState(NativeBuffers buffers) => buffers.Fill(2, -1e-2f, 1e-2f, 3);

    /// <inheritdoc />
    protected override void RooflineChunk(int start, int length) =>
        Roofline.ReadWrite2Read1(P + start, S(0) + start, G + start, length);

    /// <inheritdoc />
    protected override void GeneratedStep() =>
        Lion.Step(PSpan, GSpan, SSpan(0), Lr, Beta1, Beta2, WeightDecay, options: Options);

    /// <inheritdoc />
    protected override void NaiveScalarStep()
    {
        float* p = P, g = G, m = S(0);
        for (int i = 0; i < Size; i++)
            Lion.Step(ref p[i], in g[i], ref m[i], Lr, Beta1, Beta2, WeightDecay);
    }

    /// <summary>The fused loop, specialised to this configuration; the same operations as the rule (bit-identical).</summary>
    protected override void HandFusedChunk(int start, int length)
    {
        float* p = P + start, g = G + start, m = S(0) + start;
        float decay = (float)(1 - Lr * WeightDecay), beta1 = (float)Beta1, oneMinusBeta1 = (float)(1 - Beta1);
        float beta2 = (float)Beta2, oneMinusBeta2 = (float)(1 - Beta2), minusLr = (float)-Lr;
        var dv = Vector512.Create(decay);
        var b1 = Vector512.Create(beta1);
        var o1 = Vector512.Create(oneMinusBeta1);
        var b2 = Vector512.Create(beta2);
        var o2 = Vector512.Create(oneMinusBeta2);
        var lv = Vector512.Create(minusLr);
        int i = 0;
        for (; i <= length - 32; i += 32)
        {
            Body(p, g, m, i, dv, b1, o1, b2, o2, lv);
            Body(p, g, m, i + 16, dv, b1, o1, b2, o2, lv);
        }
        for (; i <= length - 16; i += 16)
            Body(p, g, m, i, dv, b1, o1, b2, o2, lv);
        for (; i < length; i++)
        {
            float gi = g[i], mi = m[i];
            float update = MathF.FusedMultiplyAdd(gi, oneMinusBeta1, mi * beta1);
            float direction = update > 0 ? 1f : update < 0 ? -1f : 0f;
            p[i] = MathF.FusedMultiplyAdd(direction, minusLr, p[i] * decay);
            m[i] = MathF.FusedMultiplyAdd(gi, oneMinusBeta2, mi * beta2);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Body(float* p, float* g, float* m, int i, Vector512<float> decay, Vector512<float> beta1, Vector512<float> oneMinusBeta1,
        Vector512<float> beta2, Vector512<float> oneMinusBeta2, Vector512<float> minusLr)
    {
        var gv = Vector512.Load(g + i);
        var mv = Vector512.Load(m + i);
        var update = Vector512.FusedMultiplyAdd(gv, oneMinusBeta1, mv * beta1);
        // sign(update) with sign(0) = sign(NaN) = 0: +1 where > 0, -1 where < 0.
        var direction = (Vector512.GreaterThan(update, Vector512<float>.Zero) & Vector512<float>.One)
                      | (Vector512.LessThan(update, Vector512<float>.Zero) & Vector512.Create(-1f));
        Vector512.Store(Vector512.FusedMultiplyAdd(direction, minusLr, Vector512.Load(p + i) * decay), p + i);
        Vector512.Store(Vector512.FusedMultiplyAdd(gv, oneMinusBeta2, mv * beta2), m + i);
    }

    /// <summary>7 TensorPrimitives passes (sign goes through an int view of the scratch buffer).</summary>
    protected override void TensorPrimitivesChunk(int start, int length)
    {
        var p = new Span<float>(P + start, length);
        var g = new ReadOnlySpan<float>(G + start, length);
        var m = new Span<float>(S(0) + start, length);
        var t = new Span<float>(Scratch(0) + start, length);
        var ti = MemoryMarshal.Cast<float, int>(t);
        TP.Multiply(p, (float)(1 - Lr * WeightDecay), p);      // p *= 1 - lr * wd
        TP.Multiply(m, (float)Beta1, t);                       // t = beta1 * m
        TP.FusedMultiplyAdd(g, (float)(1 - Beta1), t, t);      // t += (1 - beta1) * g
        TP.Sign(t, ti);                                        // sign, as int, in place
        TP.ConvertTruncating<int, float>(ti, t);               // back to float, in place
        TP.FusedMultiplyAdd(t, (float)-Lr, p, p);              // p -= lr * sign
        TP.Multiply(m, (float)Beta2, m);                       // m *= beta2
        TP.FusedMultiplyAdd(g, (float)(1 - Beta2), m, m);      // m += (1 - beta2) * g
    }

    /// <inheritdoc />
    protected override TorchStep CreateTorchStep(int size) => new LionTorchStep(size);

    /// <summary>lion-pytorch's update in TorchSharp operations (under no_grad, one dispose scope per step).</summary>
    private sealed class LionTorchStep : TorchStep
    {
        private readonly torch.Tensor _param, _grad, _expAvg;

        public LionTorchStep(int size)
        {
            _param = torch.rand(size) * 2 - 1;
            _grad = (torch.rand(size) * 2 - 1) * 1e-2;
            _expAvg = torch.zeros(size);
        }

        public override void Step()
        {
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            _param.mul_(1 - Lr * WeightDecay);                                              // p.data.mul_(1 - lr * wd)
            var update = _expAvg.clone().mul_(Beta1).add_(_grad, alpha: 1 - Beta1).sign_(); // exp_avg.clone().mul_(beta1).add(grad, alpha=1 - beta1).sign_()
            _param.add_(update, alpha: -Lr);                                                // p.add_(update, alpha=-lr)
            _expAvg.mul_(Beta2).add_(_grad, alpha: 1 - Beta2);                              // exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)
        }

        public override void Dispose()
        {
            _param.Dispose();
            _grad.Dispose();
            _expAvg.Dispose();
        }
    }
}

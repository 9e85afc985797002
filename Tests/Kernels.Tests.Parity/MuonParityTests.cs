using System;
using System.Linq;
using Kernels.Matrices;
using Kernels.Tests.Parity.Harness;
using Kernels.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using K = Kernels.Optimizers;

namespace Kernels.Tests.Parity;

/// <summary>
/// <see cref="K.Muon.Optimizer"/> against torch.optim.Muon's single-tensor step (torch/optim/_muon.py, PyTorch 2.9+)
/// written with libtorch operations: TorchSharp 0.107 has no Muon class. The reference runs the Newton–Schulz
/// iteration in float32 with libtorch's matmul (PyTorch runs it in bfloat16; ours is float32), in _muon.py's default
/// (non-addmm) form. 100 steps of fresh N(0, 1) gradients on N(0, 1) parameters; every element of the parameter and
/// of the momentum buffer compared after every step.
/// </summary>
/// <remarks>
/// <para>
/// The element-wise parts follow ATen's operation order (lerp and add-with-alpha as single fused multiply-adds,
/// scalars rounded to float), so the momentum buffer must be bit-identical. The parameters differ only through the
/// matrix products: libtorch's and ours (OpenBLAS or the managed kernel) sum in different orders, a few float32 ulps
/// per Newton–Schulz output element, which the parameter accumulates over the steps.
/// </para>
/// <para>
/// Required, every case: ‖ours − reference‖_F / ‖reference‖_F ≤ 1e-6 after every step, and per element
/// |a − b| ≤ atol + 1e-5·|b|. With torch.optim.Muon's defaults (lr 1e-3): atol 2e-8 and, as the team's target, a
/// relative difference ≤ 1e-5 on every element of magnitude ≥ 1e-3 (observed, seed as below, AVX-512: max relative
/// 5.0e-6, normwise 3.2e-8, needed atol 4.9e-9). With lr 0.02 and match_rms_adamw (an effective step 64 times larger),
/// the absolute differences are a few ulps of elements of magnitude ~1, so elements near zero see larger relative
/// differences: atol 1e-6 (observed: normwise 2.1e-7, needed atol 3.5e-7, max relative 2.6e-4 at |b| ≈ 1e-3).
/// </para>
/// </remarks>
public sealed class MuonParityTests(ITestOutputHelper output)
{
    private const int Steps = 100;
    private const double Rtol = 1e-5, MaxNormwise = 1e-6;

    public static TheoryData<int, int, bool, bool> Cases()
    {
        var data = new TheoryData<int, int, bool, bool>();
        foreach ((int rows, int cols) in new[] { (64, 256), (256, 64), (300, 300) })
        {
            foreach (bool defaults in new[] { true, false })
            {
                foreach (bool managed in new[] { false, true })
                    data.Add(rows, cols, defaults, managed);
            }
        }
        return data;
    }

    /// <summary>torch.optim.Muon's hyperparameters for one case.</summary>
    private sealed record Config(double Lr, double WeightDecay, double Momentum, bool Nesterov, K.Muon.LrAdjustment Adjust)
    {
        public static Config Defaults { get; } = new(1e-3, 0.1, 0.95, true, K.Muon.LrAdjustment.Original);

        /// <summary>Classical momentum, Moonshot's lr scaling, a larger lr: every other branch of the step.</summary>
        public static Config Other { get; } = new(0.02, 0.01, 0.9, false, K.Muon.LrAdjustment.MatchRmsAdamW);

        public override string ToString() => $"lr={Lr}, weight_decay={WeightDecay}, momentum={Momentum}, nesterov={Nesterov}, adjust_lr_fn={(Adjust == K.Muon.LrAdjustment.Original ? "original" : "match_rms_adamw")}";
    }

    /// <summary>_zeropower_via_newtonschulz in float32 (the use_addmm=False form), with libtorch ops.</summary>
    private static Tensor ZeropowerViaNewtonSchulz(Tensor grad, int steps, double eps)
    {
        (double a, double b, double c) = (NewtonSchulz.DefaultA, NewtonSchulz.DefaultB, NewtonSchulz.DefaultC);
        bool transposed = grad.shape[0] > grad.shape[1];
        Tensor x = transposed ? grad.T : grad;
        // ortho_grad.div_(ortho_grad.norm().clamp(min=eps)); out of place here: `grad.bfloat16()` is a copy in _muon.py.
        x = x.div(x.norm().clamp_min(eps));
        for (int i = 0; i < steps; i++)
        {
            Tensor gram = x.mm(x.T);
            Tensor update = gram.mul(b).add(gram.mul(c).mm(gram));   // b * A + c * A @ A  ((c * A) @ A in Python's order)
            x = x.mul(a).add(update.mm(x));                            // a * X + B @ X
        }
        return transposed ? x.T : x;
    }

    /// <summary>One step of _single_tensor_muon for one parameter.</summary>
    private static void ReferenceStep(Tensor param, Tensor grad, Tensor buf, Config h)
    {
        using var scope = NewDisposeScope();
        TorchOps.Lerp_(buf, grad, 1 - h.Momentum);                                  // buf.lerp_(grad, 1 - momentum)
        Tensor update = h.Nesterov ? grad.lerp(buf, tensor((float)h.Momentum)) : buf;   // grad.lerp(buf, momentum) if nesterov else buf
        update = ZeropowerViaNewtonSchulz(update, NewtonSchulz.DefaultSteps, NewtonSchulz.DefaultEps);
        // _adjust_lr: A, B = param.shape[:2]
        double a = param.shape[0], b = param.shape[1];
        double ratio = h.Adjust == K.Muon.LrAdjustment.Original ? Math.Sqrt(Math.Max(1, a / b)) : 0.2 * Math.Sqrt(Math.Max(a, b));
        double adjustedLr = h.Lr * ratio;
        param.mul_(1 - h.Lr * h.WeightDecay);                                       // param.mul_(1 - lr * weight_decay)
        param.add_(update, alpha: -adjustedLr);                                     // param.add_(update, alpha=-adjusted_lr)
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesLibtorchReference(int rows, int cols, bool defaults, bool managed)
    {
        Config h = defaults ? Config.Defaults : Config.Other;
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = managed;
        try
        {
            var random = new Random(rows * 7919 + cols * 31 + (defaults ? 0 : 1));
            float[] initial = ParityRunner.Normal(random, rows * cols, 1.0, zeros: false);

            var ours = new Parameter<float>("w", rows, cols);
            initial.CopyTo(ours.Data.Span);
            var optimizer = new K.Muon.Optimizer(new[] { ours }, lr: h.Lr, weightDecay: h.WeightDecay, momentum: h.Momentum, nesterov: h.Nesterov, adjustLrFn: h.Adjust);

            using Tensor param = tensor(initial).reshape(rows, cols);
            using Tensor buf = zeros(rows, cols, dtype: ScalarType.Float32);

            var paramStats = new ErrorStats();
            var bufStats = new ErrorStats();
            var tolerance = new Tolerance(Rtol, defaults ? 2e-8 : 1e-6);
            double worstBelowFloor = 0, worstNormwise = 0, neededAtol = 0;
            var expected = new double[rows * cols];
            NoGc.Run(() =>
            {
                for (int step = 1; step <= Steps; step++)
                {
                    float[] grad = ParityRunner.Normal(random, rows * cols, 1.0, zeros: true);
                    grad.CopyTo(ours.Grad.Span);
                    optimizer.Step();
                    using (Tensor g = tensor(grad).reshape(rows, cols))
                        ReferenceStep(param, g, buf, h);

                    float[] p = param.data<float>().ToArray();
                    for (int i = 0; i < p.Length; i++)
                        expected[i] = p[i];
                    ReadOnlySpan<float> actual = ours.Data.Span;
                    paramStats.Add(actual, expected, tolerance, step);
                    double difference = 0, norm = 0;
                    for (int i = 0; i < p.Length; i++)
                    {
                        double d = Math.Abs(actual[i] - expected[i]);
                        if (Math.Abs(expected[i]) < ErrorStats.RelativeFloor)
                            worstBelowFloor = Math.Max(worstBelowFloor, d);
                        neededAtol = Math.Max(neededAtol, d - Rtol * Math.Abs(expected[i]));
                        difference += d * d;
                        norm += expected[i] * expected[i];
                    }
                    worstNormwise = Math.Max(worstNormwise, Math.Sqrt(difference / norm));

                    float[] b = buf.data<float>().ToArray();
                    for (int i = 0; i < b.Length; i++)
                        expected[i] = b[i];
                    var state = (float[])optimizer.StateDict().State[0]!.Buffers["momentumBuffer"];
                    bufStats.Add(state, expected, tolerance, step);
                }
            });

            output.WriteLine($"Muon {rows}x{cols} [{h}], {Steps} steps, GEMM {Gemm.Backend}{(Gemm.Backend == GemmBackend.OpenBlas ? $" ({Gemm.OpenBlasLibrary})" : "")}:");
            output.WriteLine($"  param          {paramStats}; below the floor max abs {worstBelowFloor:0.00e+00}; ||a - b||_F / ||b||_F at most {worstNormwise:0.00e+00}; rtol {Rtol:G1} needs atol {neededAtol:0.00e+00}");
            output.WriteLine($"  momentumBuffer {bufStats}");

            Assert.True(bufStats.Differing == 0, $"the momentum buffer should be bit-identical to libtorch's lerp: {bufStats}");
            Assert.True(worstNormwise <= MaxNormwise, $"normwise relative difference {worstNormwise:E2} > {MaxNormwise:E0}");
            Assert.True(paramStats.MaxUsage <= 1, $"parameter outside rtol {tolerance.Rtol:E0}, atol {tolerance.Atol:E0}: {paramStats.FirstViolation}");
            if (defaults)
                Assert.True(paramStats.MaxRelative <= Rtol, $"parameter relative difference {paramStats.MaxRelative:E2} > {Rtol:E0} (|b| >= {ErrorStats.RelativeFloor})");
        }
        finally
        {
            Gemm.ForceManaged = saved;
        }
    }
}

using System;
using System.Linq;
using Kernels.Tests.Parity.Harness;
using Kernels.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Kernels.Tests.Parity;

/// <summary>
/// <see cref="GradientClipping"/> against libtorch's <c>torch::nn::utils::clip_grad_norm_</c> (which TorchSharp calls)
/// on three random float32 gradients.
/// </summary>
/// <remarks>
/// The norm agrees within float32 tolerance, not bit for bit: libtorch sums in float32 per tensor, then takes the norm
/// of the norms; Kernels sums every square in double. The coefficient is checked bit for bit against PyTorch's Python
/// formula (<c>max_norm / (total + 1e-6)</c> with Python's <c>scalar / tensor</c> = <c>tensor.reciprocal() * scalar</c>),
/// spelled with libtorch's own float32 operations from libtorch's total; the C++ function divides instead, so its
/// clipped gradients agree with ours to within an ulp of the coefficient.
/// </remarks>
public sealed class GradientClippingParityTests(ITestOutputHelper output)
{
    private static readonly int[] s_lengths = [1000, 4099, 37];

    private static float[][] Grads(int seed, double scale)
    {
        var random = new Random(seed);
        return s_lengths.Select(n => Enumerable.Range(0, n)
            .Select(_ => (float)((random.NextDouble() * 2 - 1) * scale * Math.Exp(random.NextDouble() * 4 - 2))).ToArray()).ToArray();
    }

    [Theory]
    [InlineData(2.0, 1.0, 1.0)]
    [InlineData(2.0, 0.25, 0.01)]
    [InlineData(2.0, 1e6, 1.0)]
    [InlineData(double.PositiveInfinity, 0.5, 1.0)]
    [InlineData(double.PositiveInfinity, 1e6, 1.0)]
    public void ClipGradNorm_MatchesTorch(double normType, double maxNorm, double scale)
    {
        float[][] grads = Grads(seed: 1 + (int)maxNorm, scale);
        float[][] torchClipped = [];
        double torchTotal = 0;
        float pythonCoefficient = 0;
        NoGc.Run(() =>
        {
            using var scope = NewDisposeScope();
            var parameters = grads.Select(g => new TorchSharp.Modules.Parameter(zeros(g.Length)) { grad = tensor(g) }).ToArray();
            torchTotal = nn.utils.clip_grad_norm_(parameters, maxNorm, normType);
            torchClipped = parameters.Select(p => p.grad!.data<float>().ToArray()).ToArray();

            // torch/nn/utils/clip_grad.py: clip_coef = max_norm / (total_norm + 1e-6); clamp(clip_coef, max=1.0),
            // on a float32 0-dim total, where `scalar / tensor` is `tensor.reciprocal() * scalar`.
            using var total = tensor((float)torchTotal);
            using var coefficient = total.add(1e-6).reciprocal().mul(maxNorm).clamp(max: 1.0);
            pythonCoefficient = coefficient.item<float>();
        });

        ClipResult ours = GradientClipping.ClipGradNormInPlace(grads.Select(g => new Memory<float>(g)).ToArray(), maxNorm, normType);

        output.WriteLine($"norm {normType}, max_norm {maxNorm}: torch total {torchTotal:R}, ours {ours.TotalNorm:R} (relative {Math.Abs(ours.TotalNorm - torchTotal) / torchTotal:E2}); coefficient {ours.Coefficient:R}");
        if (double.IsPositiveInfinity(normType))
            Assert.Equal(torchTotal, ours.TotalNorm); // a maximum is exact
        else
            Assert.True(Math.Abs(ours.TotalNorm - torchTotal) <= 1e-6 * torchTotal, "total norm outside float32 tolerance");
        Assert.Equal(BitConverter.SingleToInt32Bits(pythonCoefficient), BitConverter.SingleToInt32Bits(GradientClipping.ClipCoefficient(torchTotal, maxNorm)));
        // Our total differs from libtorch's in the last float bits at most, so the coefficient does too.
        Assert.True(Math.Abs(ours.Coefficient - pythonCoefficient) <= 4 * (MathF.BitIncrement(pythonCoefficient) - pythonCoefficient), "coefficient more than 4 ulps from PyTorch's");

        var stats = new ErrorStats();
        for (int k = 0; k < grads.Length; k++)
            stats.Add(grads[k], torchClipped[k].Select(x => (double)x).ToArray(), Tolerance.Float32, 0);
        output.WriteLine($"clipped gradients: max relative difference {stats.MaxRelative:E2}, {stats.Differing} of {stats.Compared} not bit-identical");
        Assert.True(stats.MaxUsage <= 1, stats.FirstViolation);
        Assert.True(stats.MaxRelative <= 1e-6, "clipped gradients differ by more than a few float32 ulps");
    }
}

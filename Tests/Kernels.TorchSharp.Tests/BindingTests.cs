using System;
using System.IO;
using System.Linq;
using Kernels.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using Sequential = TorchSharp.Modules.Sequential;
using TorchParameter = TorchSharp.Modules.Parameter;
using TSAdamW = TorchSharp.Modules.AdamW;

namespace Kernels.Torch.Tests;

/// <summary>What the drop-in accepts, what it rejects and how it follows the tensors.</summary>
public sealed class BindingTests
{
    [Fact]
    public void RejectsADoubleTensor_NamingIt()
    {
        using var p = new TorchParameter(zeros(3, 4, dtype: float64));
        var e = Assert.Throws<ArgumentException>(() => KernelsOptim.AdamW(new[] { p }));
        Assert.Contains("'0'", e.Message);
        Assert.Contains("Float64", e.Message);
        Assert.Equal("parameters", e.ParamName);
    }

    [Fact]
    public void RejectsANonContiguousView_NamingIt()
    {
        using Sequential model = Mlp.Create();
        using var view = new TorchParameter(randn(4, 6).t());
        Assert.False(view.is_contiguous());
        var e = Assert.Throws<ArgumentException>(() =>
            KernelsOptim.SGD(model.named_parameters().Append(("transposed", view)), lr: 0.1));
        Assert.Contains("'transposed'", e.Message);
        Assert.Contains("not contiguous", e.Message);
    }

    [Fact]
    public void RejectsAFrozenTensor_AndOneGivenTwice()
    {
        using var frozen = new TorchParameter(zeros(5), requires_grad: false);
        Assert.Contains("does not require grad", Assert.Throws<ArgumentException>(() => KernelsOptim.Adam(new[] { frozen })).Message);

        using var p = new TorchParameter(zeros(5));
        Assert.Contains("shares its storage", Assert.Throws<ArgumentException>(() => KernelsOptim.Adam(new[] { p, p })).Message);
        Assert.Throws<ArgumentException>(() => KernelsOptim.Adam(Array.Empty<TorchParameter>()));
    }

    [Fact]
    public void AParameterFrozenLater_IsSkippedOnceItsGradientIsGone()
    {
        using Sequential model = Mlp.Create();
        KernelsOptimizer optimizer = KernelsOptim.SGD(model.parameters(), lr: 0.1);
        Mlp.TrainStep(model, optimizer, 0);
        TorchParameter first = model.parameters().First();
        first.requires_grad = false;
        model.zero_grad();   // set_to_none: the frozen weight has no gradient from now on
        float[] before = first.data<float>().ToArray();
        Mlp.Backward(model, 1);
        optimizer.step();
        Assert.Equal(before, first.data<float>().ToArray());
        Assert.Equal(new long[] { 1, 2, 2, 2 }, optimizer.state_dict().State.Select(s => s?.Step ?? 0));
    }

    [Fact]
    public void AGradientOfTheWrongKind_ThrowsAtTheStep_NamingTheParameter()
    {
        using var p = new TorchParameter(zeros(6));
        KernelsOptimizer optimizer = KernelsOptim.SGD(new[] { ("w", p) }, lr: 0.1);
        p.grad = zeros(6, 2).select(1, 0);   // libtorch accepts a strided gradient of the right size
        var e = Assert.Throws<InvalidOperationException>(() => optimizer.step());
        Assert.Contains("'w'", e.Message);
        Assert.Contains("not contiguous", e.Message);
    }

    [Fact]
    public void AParameterWithoutGradient_IsSkipped_AsTorchSharpSkipsIt()
    {
        using Sequential ours = Mlp.Create(), theirs = Mlp.Create();
        using var unusedOurs = new TorchParameter(ones(7));
        using var unusedTheirs = new TorchParameter(ones(7));
        KernelsOptimizer dropIn = KernelsOptim.AdamW(ours.parameters().Append(unusedOurs), lr: 1e-2);
        using optim.Optimizer reference = optim.AdamW(theirs.parameters().Append(unusedTheirs), lr: 1e-2);
        for (int step = 0; step < 5; step++)
        {
            Mlp.TrainStep(ours, dropIn, step);
            Mlp.TrainStep(theirs, reference, step);
        }
        Assert.Null(unusedOurs.grad);
        Assert.All(unusedOurs.data<float>().ToArray(), v => Assert.Equal(1f, v));
        OptimizerStateDict state = dropIn.state_dict();
        Assert.Null(state.State[^1]);
        Assert.All(state.State.Take(4), s => Assert.Equal(5, s!.Step));
        Assert.True(Difference.Between(Mlp.Values(ours), Mlp.Values(theirs)).MaxAbsolute <= 1e-5);
    }

    [Fact]
    public void StepWithClosure_ReturnsItsLoss_AndClipGradNormIsFusedIntoTheStep()
    {
        using Sequential model = Mlp.Create();
        KernelsOptimizer optimizer = KernelsOptim.AdamW(model.parameters(), lr: 1e-2);
        float lossValue = 0;
        Tensor? loss = optimizer.step(() =>
        {
            optimizer.zero_grad();
            (Tensor x, Tensor y) = Digits.Batch(0);
            Tensor l = nn.functional.cross_entropy(model.forward(x), y);
            l.backward();
            lossValue = l.item<float>();
            return l;
        });
        Assert.NotNull(loss);
        Assert.Equal(lossValue, loss!.item<float>());

        // The clip's norm is PyTorch's (float64 sum of the float32 squares); the gradients keep their values.
        optimizer.zero_grad();
        Mlp.Backward(model, 1);
        float[][] grads = Mlp.Grads(model);
        double expected = Math.Sqrt(grads.SelectMany(g => g).Sum(g => (double)g * g));
        double norm = optimizer.clip_grad_norm(max_norm: 0.1);
        Assert.Equal(expected, norm, 1e-9 * expected);
        optimizer.step();
        Assert.Equal(grads.SelectMany(g => g), Mlp.Grads(model).SelectMany(g => g));
    }

    [Fact]
    public void Checkpoint_RoundTrip_ResumesBitIdentically()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kernels-torchsharp-{Guid.NewGuid():N}.safetensors");
        try
        {
            using Sequential first = Mlp.Create(seed: 1);
            KernelsOptimizer a = KernelsOptim.AdamW(first.named_parameters(), lr: 1e-2, weight_decay: 0.01);
            for (int step = 0; step < 5; step++)
                Mlp.TrainStep(first, a, step);
            a.save_checkpoint(path);
            for (int step = 5; step < 10; step++)
                Mlp.TrainStep(first, a, step);

            using Sequential second = Mlp.Create(seed: 2);   // other weights: the checkpoint restores them
            KernelsOptimizer b = KernelsOptim.AdamW(second.named_parameters(), lr: 1e-2, weight_decay: 0.01);
            b.load_checkpoint(path);
            for (int step = 5; step < 10; step++)
                Mlp.TrainStep(second, b, step);

            Assert.Equal(0, Difference.Between(Mlp.Values(first), Mlp.Values(second)).Differing);
            Assert.Equal(new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }, b.Inner.Parameters.Select(p => p.Name));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ParamGroups_TypedOrTorchSharps_SetTheirOwnHyperparameters()
    {
        using Sequential model = Mlp.Create();
        TorchParameter[] all = model.parameters().ToArray();
        KernelsOptimizer<Optimizers.AdamW.Options> optimizer = KernelsOptim.AdamW(new[] { all[0] }, lr: 1e-3, weight_decay: 0.01);
        KernelsParamGroup typed = optimizer.add_param_group(new[] { all[1] }, g => g.WeightDecay = 0);
        optimizer.add_param_group(new TSAdamW.ParamGroup(new[] { all[2], all[3] }, lr: 5e-3, weight_decay: 0));

        Assert.Equal(3, optimizer.param_groups.Count);
        Assert.Equal(0, typed["weight_decay"]);
        Assert.Equal(1e-3, typed.LearningRate);
        Assert.Equal(5e-3, optimizer.param_groups[2].LearningRate);
        Assert.Equal(5e-3, optimizer.param_groups[2].InitialLearningRate);
        Assert.Equal(0, optimizer.Inner.Groups[2].Options.WeightDecay);
        Assert.Equal(new[] { "0", "1", "2", "3" }, optimizer.Inner.Parameters.Select(p => p.Name));
        Assert.Equal(all, optimizer.parameters());
        Assert.Throws<ArgumentException>(() => optimizer.add_param_group(new[] { all[0] }));   // already in a group

        for (int step = 0; step < 3; step++)
            Mlp.TrainStep(model, optimizer, step);
        Assert.All(optimizer.state_dict().State, s => Assert.Equal(3, s!.Step));
    }
}

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Kernels.Optimizers;
using Kernels.Tests.Matrices;
using Kernels.Training;
using Xunit;

namespace Kernels.Tests.Training;

/// <summary>
/// <see cref="Muon.HybridOptimizer"/>: the default split, each kind of group bit-identical to the stand-alone optimizer
/// of that kind (Muon.Optimizer, AdamW.Optimizer) over the same parameters, one clip over all gradients, one state dict
/// and checkpoint, and errors raised before anything is written.
/// </summary>
[Collection(GemmBackendCollection.Name)]
public sealed class MuonHybridTests
{
    /// <summary>A small transformer-like parameter list: embedding, two hidden matrices, biases, a gain, a head.</summary>
    private static List<Parameter<float>> Model()
    {
        var list = new List<Parameter<float>>
        {
            new("embed.weight", 20, 12),
            new("layer0.weight", 12, 24),
            new("layer0.bias", 24),
            new("layer1.weight", 24, 12),
            new("layer1.bias", 12),
            new("norm.gain", 12),
            new("lm_head.weight", 12, 20),
        };
        for (int k = 0; k < list.Count; k++)
        {
            Span<float> data = list[k].Data.Span;
            for (int i = 0; i < data.Length; i++)
                data[i] = (float)Math.Sin(7 + k * 3.1 + i * 0.9) * 0.2f;
        }
        return list;
    }

    private static void Backward(IReadOnlyList<Parameter<float>> parameters, int step)
    {
        for (int k = 0; k < parameters.Count; k++)
        {
            Span<float> grad = parameters[k].Grad.Span;
            for (int i = 0; i < grad.Length; i++)
                grad[i] = (float)(Math.Cos(step * 0.61 + k * 1.7 + i * 0.29) + 0.5 * Math.Sin(i * i * 0.013 + step)) * (1 + k % 3);
        }
    }

    private static void AssertBitIdentical(IReadOnlyList<Parameter<float>> expected, IReadOnlyList<Parameter<float>> actual, string when)
    {
        for (int k = 0; k < expected.Count; k++)
        {
            float[] e = expected[k].Data.ToArray(), a = actual[k].Data.ToArray();
            for (int i = 0; i < e.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(e[i]) == BitConverter.SingleToInt32Bits(a[i]),
                    $"{when}: '{actual[k].Name}' element {i}: expected {e[i]:R}, got {a[i]:R}");
        }
    }

    private static readonly string[] HiddenNames = { "layer0.weight", "layer1.weight" };

    [Fact]
    public void DefaultSplit_HiddenMatricesToMuon_EmbeddingsHeadsAndVectorsToAdamW()
    {
        var optimizer = new Muon.HybridOptimizer(Model());
        Assert.Equal(2, optimizer.Groups.Count);
        Assert.True(optimizer.Groups[0].Options.UseMuon);
        Assert.Equal(HiddenNames, optimizer.Groups[0].Parameters.Select(p => p.Name));
        Assert.False(optimizer.Groups[1].Options.UseMuon);
        Assert.Equal(new[] { "embed.weight", "layer0.bias", "layer1.bias", "norm.gain", "lm_head.weight" }, optimizer.Groups[1].Parameters.Select(p => p.Name));

        // Each group has its kind's PyTorch defaults under the shared names.
        Assert.Equal((1e-3, 0.1), (optimizer.Groups[0].Options.Lr, optimizer.Groups[0].Options.WeightDecay));
        Assert.Equal((1e-3, 1e-2), (optimizer.Groups[1].Options.Lr, optimizer.Groups[1].Options.WeightDecay));
        Assert.Equal((0.9, 0.999, 1e-8), (optimizer.Groups[1].Options.Beta1, optimizer.Groups[1].Options.Beta2, optimizer.Groups[1].Options.Eps));
        Assert.Equal(1.0, optimizer.ParamGroups[0]["use_muon"]);
        Assert.Equal(1e-7, optimizer.ParamGroups[0]["ns_eps"]);

        Assert.False(Muon.IsHiddenMatrix(new Parameter<float>("transformer.wte", 50, 8)));
        Assert.False(Muon.IsHiddenMatrix(new Parameter<float>("Classifier.W", 8, 8)));
        Assert.False(Muon.IsHiddenMatrix(new Parameter<float>("conv.weight", 4, 3, 3, 3)));
        Assert.True(Muon.IsHiddenMatrix(new Parameter<float>("blocks.3.mlp.fc", 8, 32)));
    }

    [Fact]
    public void OnlyOneKind_GivesOneGroup()
    {
        var vectors = new Muon.HybridOptimizer(new[] { new Parameter<float>("b", 4) });
        Assert.Single(vectors.Groups);
        Assert.False(vectors.Groups[0].Options.UseMuon);
        var matrices = new Muon.HybridOptimizer(new[] { new Parameter<float>("w", 4, 4) });
        Assert.Single(matrices.Groups);
        Assert.True(matrices.Groups[0].Options.UseMuon);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Step_IsMuonOptimizerAndAdamWOptimizerSideBySide(bool clip, bool amsgrad)
    {
        const double muonLr = 0.02, adamLr = 3e-3;
        List<Parameter<float>> model = Model(), mirror = Model();
        var hybrid = new Muon.HybridOptimizer(model, lr: muonLr, weightDecay: 0.05, adamLr: adamLr, adamWeightDecay: 0.02, amsgrad: amsgrad);
        var muon = new Muon.Optimizer(mirror.Where(Muon.IsHiddenMatrix), lr: muonLr, weightDecay: 0.05);
        var adamw = new AdamW.Optimizer(mirror.Where(p => !Muon.IsHiddenMatrix(p)), lr: adamLr, weightDecay: 0.02, amsgrad: amsgrad);

        for (int step = 1; step <= 12; step++)
        {
            Backward(model, step);
            Backward(mirror, step);
            if (clip)
            {
                // One clip over every gradient of both kinds: the reference scales the gradients by the coefficient of
                // the global norm, as a separate pass.
                double norm = hybrid.ClipGradNorm(maxNorm: 2.0);
                float coefficient = GradientClipping.ClipCoefficient(norm, 2.0);
                Assert.True(coefficient < 1, $"step {step}: the clip must bite (norm {norm})");
                GradientClipping.Scale(mirror.Select(p => p.Grad).ToArray(), coefficient);
            }
            hybrid.Step();
            muon.Step();
            adamw.Step();
            AssertBitIdentical(mirror, model, $"step {step}");
        }
    }

    [Fact]
    public void State_OnlyTheBuffersEachKindUses()
    {
        List<Parameter<float>> model = Model();
        var hybrid = new Muon.HybridOptimizer(model);
        Backward(model, 1);
        hybrid.Step();
        OptimizerStateDict state = hybrid.StateDict();
        for (int i = 0; i < state.Parameters.Count; i++)
        {
            string[] buffers = state.State[i]!.Buffers.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
            string[] expected = HiddenNames.Contains(state.Parameters[i].Name) ? new[] { "momentumBuffer" } : new[] { "expAvg", "expAvgSq" };
            Assert.Equal(expected, buffers);
            Assert.Equal(1, state.State[i]!.Step);
        }
    }

    [Fact]
    public void Checkpoint_ResumesBitIdentically_WithASchedule()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kernels-hybrid-{Guid.NewGuid():N}.safetensors");
        try
        {
            List<Parameter<float>> model = Model(), resumedModel = Model();
            var hybrid = new Muon.HybridOptimizer(model, lr: 0.02, adamLr: 3e-3);
            var schedule = new Kernels.Training.Schedules.CosineAnnealingLR(hybrid, tMax: 10);
            for (int step = 1; step <= 4; step++)
            {
                Backward(model, step);
                hybrid.Step();
                schedule.Step();
            }
            Checkpoint.Save(path, hybrid, schedule);

            var resumed = new Muon.HybridOptimizer(resumedModel);
            var resumedSchedule = new Kernels.Training.Schedules.CosineAnnealingLR(resumed, tMax: 10);
            Checkpoint.Load(path, resumed, resumedSchedule);
            Assert.Equal(hybrid.Groups[0].Options.Lr, resumed.Groups[0].Options.Lr);
            Assert.Equal(hybrid.Groups[1].Options.Lr, resumed.Groups[1].Options.Lr);
            for (int step = 5; step <= 9; step++)
            {
                Backward(model, step);
                Backward(resumedModel, step);
                hybrid.Step();
                schedule.Step();
                resumed.Step();
                resumedSchedule.Step();
                AssertBitIdentical(model, resumedModel, $"step {step}");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void UseMuon_ChoosingAVector_IsAnArgumentError()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Muon.HybridOptimizer(Model(), useMuon: p => p.Name.StartsWith("layer", StringComparison.Ordinal)));
        Assert.Equal("useMuon", ex.ParamName);
        Assert.Contains("'layer0.bias'", ex.Message);

        var optimizer = new Muon.HybridOptimizer(new[] { new Parameter<float>("w", 4, 4) });
        ex = Assert.Throws<ArgumentException>(() => optimizer.AddMuonGroup(new[] { new Parameter<float>("b", 4) }));
        Assert.Equal("parameters", ex.ParamName);
        Assert.Single(optimizer.Groups);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Muon.HybridOptimizer(Model(), adamLr: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Muon.HybridOptimizer(Model(), beta2: 1));
        Assert.Throws<ArgumentException>(() => new Muon.HybridOptimizer(Array.Empty<Parameter<float>>()));
    }

    [Fact]
    public void GroupSwitchedToMuon_WithAVector_ThrowsBeforeAnythingIsWritten()
    {
        List<Parameter<float>> model = Model();
        var hybrid = new Muon.HybridOptimizer(model);
        Backward(model, 1);
        float[][] before = model.Select(p => p.Data.ToArray()).ToArray();
        hybrid.ParamGroups[1]["useMuon"] = 1;   // the AdamW group holds vectors
        var ex = Assert.Throws<InvalidOperationException>(() => hybrid.Step());
        Assert.Contains("'layer0.bias'", ex.Message);
        for (int k = 0; k < model.Count; k++)
            Assert.Equal(before[k], model[k].Data.ToArray());
        Assert.All(hybrid.StateDict().State, s => Assert.Null(s));
    }

    [Fact]
    public void AddAdamWGroup_StartsFromTheConstructorsAdamWValues()
    {
        var hybrid = new Muon.HybridOptimizer(new[] { new Parameter<float>("w", 4, 4) }, lr: 0.02, adamLr: 5e-4, beta1: 0.8, adamWeightDecay: 0);
        ParamGroup<float, Muon.HybridOptions> adam = hybrid.AddAdamWGroup(new[] { new Parameter<float>("b", 4) }, g => g.Eps = 1e-6);
        Assert.False(adam.Options.UseMuon);
        Assert.Equal((5e-4, 0.8, 0.0, 1e-6), (adam.Options.Lr, adam.Options.Beta1, adam.Options.WeightDecay, adam.Options.Eps));
        ParamGroup<float, Muon.HybridOptions> muon = hybrid.AddMuonGroup(new[] { new Parameter<float>("w2", 3, 5) });
        Assert.True(muon.Options.UseMuon);
        Assert.Equal(0.02, muon.Options.Lr);
    }
}

using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;
using Kernels.Training;

namespace Kernels.Benchmarks;

/// <summary>
/// Steps that need a tensor-wide reduction, against the AdamW optimizer object over the same tensor (the baseline):
/// LAMB (<c>Lamb.Step</c>, a rule with two <c>Reduce.Sum</c>s: a reduction pass reading p, g, m, v and an update pass,
/// 44 B per parameter against AdamW's 28, target ≤ 1.6× AdamW's time), LARS (the same shape over SGD with momentum's
/// buffers: 32 B) and AdamW with global-norm clipping (one extra read of the gradients, 32 B: target ≤ 1.2×).
/// </summary>
[StreamedBytes(28, "read p,g,m,v; write p,m,v")]
public class ReductionBenchmark
{
    private AdamW.Optimizer? _adamw, _adamwClipped;
    private Lamb.Optimizer? _lamb;
    private Lars.Optimizer? _lars;

    /// <summary>The number of parameters.</summary>
    [ParamsSource(nameof(Sizes))]
    public int Size { get; set; }

    /// <summary>The sizes of this run (<see cref="BenchSettings.Sizes"/>; the issue measures 16M: --sizes 16M).</summary>
    public static IEnumerable<int> Sizes => BenchSettings.Sizes;

    /// <summary>One thread, or every core.</summary>
    [ParamsAllValues]
    public Cores Cores { get; set; }

    private Parameter<float> Tensor(int seed)
    {
        var p = new Parameter<float>("w", Size);
        var random = new Random(seed);
        Span<float> data = p.Data.Span, grad = p.Grad.Span;
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)(random.NextDouble() - 0.5);
            grad[i] = (float)(random.NextDouble() - 0.5) * 1e-2f;
        }
        return p;
    }

    /// <summary>Three optimizers, each over its own tensor, state allocated by a first step.</summary>
    [GlobalSetup]
    public void Setup()
    {
        StepOptions options = Chunks.OptionsFor(Cores);
        _adamw = new AdamW.Optimizer(new[] { Tensor(1) }, stepOptions: options);
        _adamwClipped = new AdamW.Optimizer(new[] { Tensor(2) }, stepOptions: options);
        _lamb = new Lamb.Optimizer(new[] { Tensor(3) }, stepOptions: options);
        _lars = new Lars.Optimizer(new[] { Tensor(4) }, lr: 0.1, stepOptions: options);
        _adamw.Step();
        _adamwClipped.Step();
        _lamb.Step();
        _lars.Step();
    }

    /// <summary>Drops everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _adamw = _adamwClipped = null;
        _lamb = null;
        _lars = null;
        GC.Collect();
    }

    /// <summary>AdamW's step (the baseline).</summary>
    [Benchmark(Baseline = true)]
    public void AdamW() => _adamw!.Step();

    /// <summary>AdamW with <c>ClipGradNorm(1.0)</c> before the step (the coefficient applied inside it).</summary>
    [Benchmark]
    [StreamedBytes(32, "read g (norm); read p,g,m,v; write p,m,v")]
    public void AdamWClipped()
    {
        _adamwClipped!.ClipGradNorm(1.0);
        _adamwClipped.Step();
    }

    /// <summary>LAMB's step: moments and the two norms, then the update with the trust ratio.</summary>
    [Benchmark]
    [StreamedBytes(44, "read p,g,m,v (reduction pass); read p,g,m,v; write p,m,v")]
    public void Lamb() => _lamb!.Step();

    /// <summary>LARS's step: the two norms, then the momentum update with the local rate.</summary>
    [Benchmark]
    [StreamedBytes(32, "read p,g,v (reduction pass); read p,g,v; write p,v")]
    public void Lars() => _lars!.Step();
}

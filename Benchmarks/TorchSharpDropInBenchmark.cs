using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Torch;
using TorchSharp;
using static TorchSharp.torch;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace Kernels.Benchmarks;

/// <summary>
/// The TorchSharp drop-in's AdamW step alone (<c>KernelsOptim.AdamW(...).step()</c>: the per-step binding of every
/// tensor and gradient, then the fused multi-tensor kernel on their storage) against TorchSharp's own
/// <c>torch.optim.AdamW</c> (the baseline) over the same model-like parameter list: a decoder-style transformer's shapes
/// (token embedding 8192 x 512, four blocks of d = 512 with a 2048-wide MLP, LayerNorms and biases) — 16,804,864
/// parameters in 51 tensors. AdamW as in the rest of the suite: lr 1e-3, weight decay 1e-2.
/// </summary>
[StreamedBytes(28, "read p,g,m,v; write p,m,v")]
public class TorchSharpDropInStepBenchmark
{
    /// <summary>The parameter shapes, in model order.</summary>
    public static readonly long[][] Shapes = ModelShapes();

    /// <summary>Parameters in all.</summary>
    public static readonly int TotalElements = Shapes.Sum(s => (int)s.Aggregate(1L, (a, d) => a * d));

    private List<TorchParameter>? _parameters;
    private KernelsOptimizer? _kernels;
    private optim.Optimizer? _torch;
    private Kernels.Optimizers.AdamW.Optimizer? _optimizerObject;

    /// <summary>One thread, or every core (for both: libtorch's threads and the fused step's).</summary>
    [ParamsAllValues]
    public Cores Cores { get; set; }

    private static long[][] ModelShapes()
    {
        const int Vocab = 8192, D = 512, Mlp = 2048, Blocks = 4;
        var shapes = new List<long[]> { new long[] { Vocab, D } };
        for (int b = 0; b < Blocks; b++)
        {
            shapes.Add([D]); shapes.Add([D]);                       // ln1
            shapes.Add([3 * D, D]); shapes.Add([3 * D]);            // qkv
            shapes.Add([D, D]); shapes.Add([D]);                    // attention output
            shapes.Add([D]); shapes.Add([D]);                       // ln2
            shapes.Add([Mlp, D]); shapes.Add([Mlp]);                // fc1
            shapes.Add([D, Mlp]); shapes.Add([D]);                  // fc2
        }
        shapes.Add([D]); shapes.Add([D]);                           // final LayerNorm
        return shapes.ToArray();
    }

    private List<TorchParameter> MakeParameters()
    {
        torch.set_num_threads(OptimizerBenchmark.TorchThreads(Cores));
        torch.manual_seed(1);
        var list = new List<TorchParameter>();
        foreach (long[] shape in Shapes)
        {
            var p = new TorchParameter(torch.rand(shape) * 2 - 1);
            p.grad = (torch.rand(shape) * 2 - 1) * 1e-2;
            list.Add(p);
        }
        return list;
    }

    /// <summary>The drop-in over the parameters; its state created by a first step.</summary>
    [GlobalSetup(Target = nameof(KernelsDropIn))]
    public void SetupKernels()
    {
        _parameters = MakeParameters();
        _kernels = KernelsOptim.AdamW(_parameters, lr: 1e-3, weight_decay: 1e-2, stepOptions: Chunks.OptionsFor(Cores));
        _kernels.step();
    }

    /// <summary>
    /// The Kernels optimizer object over the same tensors' storage, wrapped once (what the drop-in runs, without its
    /// per-step re-binding and checks); its state created by a first step.
    /// </summary>
    [GlobalSetup(Target = nameof(KernelsOptimizerObject))]
    public unsafe void SetupOptimizerObject()
    {
        _parameters = MakeParameters();
        static Memory<float> Wrap(Tensor t) =>
            new NativeMemoryManager((float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(t.bytes)), (int)t.numel()).Memory;
        var parameters = _parameters.Select((p, i) =>
        {
            using Tensor grad = p.grad!;
            return new Kernels.Training.Parameter<float>("p" + i, Wrap(p), Wrap(grad), p.shape.Select(d => (int)d).ToArray());
        }).ToArray();
        _optimizerObject = new Kernels.Optimizers.AdamW.Optimizer(parameters, lr: 1e-3, weightDecay: 1e-2, stepOptions: Chunks.OptionsFor(Cores));
        _optimizerObject.Step();
    }

    /// <summary>TorchSharp's AdamW over the parameters; its state created by a first step.</summary>
    [GlobalSetup(Target = nameof(TorchSharpAdamW))]
    public void SetupTorch()
    {
        _parameters = MakeParameters();
        _torch = optim.AdamW(_parameters, lr: 1e-3, weight_decay: 1e-2);
        _torch.step();
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _torch?.Dispose();
        foreach (TorchParameter p in _parameters ?? [])
        {
            p.grad?.Dispose();
            p.Dispose();
        }
        _torch = null;
        _kernels = null;
        _optimizerObject = null;
        _parameters = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    /// <summary>The drop-in's <c>step()</c>.</summary>
    [Benchmark]
    public void KernelsDropIn() => _kernels!.step();

    /// <summary>The Kernels optimizer object's <c>Step()</c> on the same storage, bound once.</summary>
    [Benchmark]
    public void KernelsOptimizerObject() => _optimizerObject!.Step();

    /// <summary><c>torch.optim.AdamW</c>'s <c>step()</c>.</summary>
    [Benchmark(Baseline = true)]
    public void TorchSharpAdamW() => _torch!.step();
}

/// <summary>
/// A whole training step of a small MLP (784-512-512-10, ReLU, 669,706 parameters; batch 128 of random inputs and
/// labels; cross-entropy): <c>zero_grad()</c>, forward, backward, AdamW <c>step()</c> — with the drop-in against with
/// TorchSharp's <c>torch.optim.AdamW</c> (the baseline). Only the optimizer differs; forward and backward are libtorch's.
/// </summary>
public class TorchSharpDropInTrainingBenchmark
{
    private const int Batch = 128;
    private TorchSharp.Modules.Sequential? _model;
    private optim.Optimizer? _optimizer;
    private Tensor? _x, _y;

    /// <summary>One thread, or every core.</summary>
    [ParamsAllValues]
    public Cores Cores { get; set; }

    private void MakeModel()
    {
        torch.set_num_threads(OptimizerBenchmark.TorchThreads(Cores));
        torch.manual_seed(1);
        _model = nn.Sequential(("fc1", nn.Linear(784, 512)), ("act1", nn.ReLU()), ("fc2", nn.Linear(512, 512)), ("act2", nn.ReLU()), ("fc3", nn.Linear(512, 10)));
        _x = torch.rand(Batch, 784);
        _y = torch.randint(0, 10, [Batch], dtype: ScalarType.Int64);
    }

    /// <summary>The model with the drop-in; one step taken.</summary>
    [GlobalSetup(Target = nameof(KernelsDropInTrainStep))]
    public void SetupKernels()
    {
        MakeModel();
        _optimizer = KernelsOptim.AdamW(_model!.parameters(), lr: 1e-3, weight_decay: 1e-2, stepOptions: Chunks.OptionsFor(Cores));
        TrainStep();
    }

    /// <summary>The model with TorchSharp's AdamW; one step taken.</summary>
    [GlobalSetup(Target = nameof(TorchSharpTrainStep))]
    public void SetupTorch()
    {
        MakeModel();
        _optimizer = optim.AdamW(_model!.parameters(), lr: 1e-3, weight_decay: 1e-2);
        TrainStep();
    }

    /// <summary>Frees the model.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _optimizer?.Dispose();
        _model?.Dispose();
        _x?.Dispose();
        _y?.Dispose();
        _optimizer = null;
        _model = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private void TrainStep()
    {
        using var scope = torch.NewDisposeScope();
        _optimizer!.zero_grad();
        Tensor loss = nn.functional.cross_entropy(_model!.forward(_x!), _y!);
        loss.backward();
        _optimizer.step();
    }

    /// <summary>zero_grad, forward, backward, the drop-in's step.</summary>
    [Benchmark]
    public void KernelsDropInTrainStep() => TrainStep();

    /// <summary>zero_grad, forward, backward, TorchSharp's AdamW step.</summary>
    [Benchmark(Baseline = true)]
    public void TorchSharpTrainStep() => TrainStep();
}

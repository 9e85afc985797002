using System;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;
using TorchSharp;

namespace Kernels.Benchmarks;

/// <summary>
/// AdamW over a model of 1000 tensors of 16K parameters each against one flat tensor of the same total size
/// (16,384,000 parameters), the flat generated step being the baseline. A model is many tensors; the generated
/// overload is one call per tensor, and each 16K tensor is below <see cref="StepOptions.DefaultParallelThreshold"/>,
/// so a plain loop runs each tensor on the calling thread: the "parallel over tensors" row shows what a caller gets by
/// spreading the tensors over the cores instead, and the multi-tensor overload (one call over lists of tensors) what
/// the generator offers for it.
/// </summary>
[StreamedBytes(28, "read p,g,m,v; write p,m,v")]
public unsafe class MultiTensorBenchmark
{
    /// <summary>Tensors in the model.</summary>
    public const int TensorCount = 1000;

    /// <summary>Parameters per tensor.</summary>
    public const int TensorSize = 16 * 1024;

    /// <summary>Parameters in all.</summary>
    public const int TotalElements = TensorCount * TensorSize;

    private const int StepNumber = 10;
    private NativeBuffers? _flat;
    private NativeBuffers[]? _tensors;
    private Memory<float>[]? _param, _expAvg, _expAvgSq;
    private ReadOnlyMemory<float>[]? _grad;
    private TorchStep? _torch;
    private AdamW.Optimizer? _optimizer;

    /// <summary>One thread, or every core.</summary>
    [ParamsAllValues]
    public Cores Cores { get; set; }

    /// <summary>The threads <paramref name="method"/> runs on.</summary>
    public static int ThreadsOf(string method, Cores cores) => method switch
    {
        nameof(FlatGenerated) => Chunks.ThreadsFor(TotalElements, cores),
        nameof(MultiTensorGenerated) => Chunks.ThreadsFor(TensorSize, cores),
        nameof(MultiTensorOverload) => Chunks.ThreadsFor(TotalElements, cores),
        nameof(OptimizerObject) or nameof(OptimizerObjectClipped) => Chunks.ThreadsFor(TotalElements, cores),
        nameof(MultiTensorParallelOverTensors) => cores == Cores.All ? Environment.ProcessorCount : 1,
        _ => OptimizerBenchmark.TorchThreads(cores),
    };

    private static NativeBuffers Make(int length, uint seed)
    {
        var b = new NativeBuffers(4, length);
        b.Fill(0, -1f, 1f, seed);
        b.Fill(1, -1e-2f, 1e-2f, seed + 1);
        b.Fill(2, -1e-3f, 1e-3f, seed + 2);
        b.Fill(3, 1e-6f, 1e-4f, seed + 3);
        return b;
    }

    /// <summary>One flat tensor.</summary>
    [GlobalSetup(Target = nameof(FlatGenerated))]
    public void SetupFlat() => _flat = Make(TotalElements, 1);

    /// <summary>1000 separately allocated tensors.</summary>
    [GlobalSetup(Targets = new[] { nameof(MultiTensorGenerated), nameof(MultiTensorParallelOverTensors), nameof(MultiTensorOverload) })]
    public void SetupTensors()
    {
        _tensors = Enumerable.Range(0, TensorCount).Select(i => Make(TensorSize, (uint)(10 * i + 1))).ToArray();
        Memory<float> Wrap(NativeBuffers b, int index) => new NativeMemoryManager(b[index], b.Length).Memory;
        _param = _tensors.Select(t => Wrap(t, 0)).ToArray();
        _grad = _tensors.Select(t => (ReadOnlyMemory<float>)Wrap(t, 1)).ToArray();
        _expAvg = _tensors.Select(t => Wrap(t, 2)).ToArray();
        _expAvgSq = _tensors.Select(t => Wrap(t, 3)).ToArray();
    }

    /// <summary>The optimizer object over the same 1000 tensors (wrapped, not copied); its state allocated by a first step.</summary>
    [GlobalSetup(Targets = new[] { nameof(OptimizerObject), nameof(OptimizerObjectClipped) })]
    public void SetupOptimizer()
    {
        SetupTensors();
        var parameters = Enumerable.Range(0, TensorCount)
            .Select(i => new Kernels.Training.Parameter<float>("w" + i, _param![i], MemoryMarshal.AsMemory(_grad![i]), TensorSize)).ToArray();
        _optimizer = new AdamW.Optimizer(parameters, stepOptions: Chunks.OptionsFor(Cores));
        _optimizer.Step();
    }

    /// <summary>TorchSharp AdamW over one flat parameter.</summary>
    [GlobalSetup(Target = nameof(FlatTorchSharp))]
    public void SetupTorchFlat() => SetupTorch(Enumerable.Repeat(TotalElements, 1));

    /// <summary>TorchSharp AdamW over 1000 parameters.</summary>
    [GlobalSetup(Target = nameof(MultiTensorTorchSharp))]
    public void SetupTorchTensors() => SetupTorch(Enumerable.Repeat(TensorSize, TensorCount));

    private void SetupTorch(System.Collections.Generic.IEnumerable<int> sizes)
    {
        torch.set_num_threads(OptimizerBenchmark.TorchThreads(Cores));
        var parameters = TorchOptimizerStep.MakeParameters(sizes);
        _torch = new TorchOptimizerStep(torch.optim.AdamW(parameters, 1e-3, 0.9, 0.999, 1e-8, 1e-2), [.. parameters]);
        _torch.Step();
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _flat?.Dispose();
        foreach (var t in _tensors ?? [])
            t.Dispose();
        _torch?.Dispose();
        _optimizer = null;
        _flat = null;
        _tensors = null;
        _param = _expAvg = _expAvgSq = null;
        _grad = null;
        _torch = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private static void Step(NativeBuffers b, StepOptions options) =>
        AdamW.Step(b.Span(0), b.Span(1), b.Span(2), b.Span(3), default, StepNumber, options: options);

    /// <summary>The generated AdamW step over one flat tensor (the baseline).</summary>
    [Benchmark(Baseline = true)]
    public void FlatGenerated() => Step(_flat!, Chunks.OptionsFor(Cores));

    /// <summary>The generated AdamW step called once per tensor, in a loop, with the same options.</summary>
    [Benchmark]
    public void MultiTensorGenerated()
    {
        var options = Chunks.OptionsFor(Cores);
        foreach (var t in _tensors!)
            Step(t, options);
    }

    /// <summary>The generated multi-tensor overload: one call over the lists of tensors (it splits their concatenation across threads).</summary>
    [Benchmark]
    public void MultiTensorOverload() =>
        AdamW.Step(_param, _grad, _expAvg, _expAvgSq, default, StepNumber, options: Chunks.OptionsFor(Cores));

    /// <summary>The generated optimizer object's <c>Step()</c> over the 1000 tensors (issue 9: within 10% of the flat step; its overhead over the multi-tensor overload).</summary>
    [Benchmark]
    public void OptimizerObject() => _optimizer!.Step();

    /// <summary>The optimizer object with global-norm clipping: one extra read of the gradients, the coefficient applied inside the step.</summary>
    [Benchmark]
    public void OptimizerObjectClipped()
    {
        _optimizer!.ClipGradNorm(1.0);
        _optimizer.Step();
    }

    /// <summary>The tensors spread over the cores (Parallel.For), each stepped on its thread (all-cores rows only).</summary>
    [Benchmark]
    public void MultiTensorParallelOverTensors()
    {
        var tensors = _tensors!;
        Parallel.For(0, tensors.Length, i => Step(tensors[i], StepOptions.SingleThreaded));
    }

    /// <summary>TorchSharp's AdamW over one flat parameter.</summary>
    [Benchmark]
    public void FlatTorchSharp() => _torch!.Step();

    /// <summary>TorchSharp's AdamW over 1000 parameters.</summary>
    [Benchmark]
    public void MultiTensorTorchSharp() => _torch!.Step();
}

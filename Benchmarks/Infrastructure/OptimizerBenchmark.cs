using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using TorchSharp;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>
/// The six columns of issue 5 for one optimizer, over every size and both thread modes. A derived class supplies the
/// optimizer: its generated span overload, a hand-written fused Vector512 loop, a TensorPrimitives composition, the
/// naive per-element loop, TorchSharp's step, and which roofline twin matches its loads and stores.
/// </summary>
/// <remarks>
/// Buffer 0 is the parameter, buffer 1 the gradient, buffers 2.. the optimizer state. Every column but TorchSharp
/// steps the same native, 64-byte aligned buffers; TorchSharp steps libtorch tensors of the same size and values
/// drawn from the same ranges. The step is repeated on the same buffers (the state keeps evolving, as in training);
/// the values stay in the normal float range for millions of steps, so no column ever meets a denormal.
/// </remarks>
public abstract unsafe class OptimizerBenchmark
{
    private NativeBuffers? _buffers;
    private NativeBuffers? _scratch;
    private TorchStep? _torch;
    private Action<int, int> _roofline = null!, _handFused = null!, _tensorPrimitives = null!;

    /// <summary>Parameters per tensor.</summary>
    [ParamsSource(nameof(Sizes))]
    public int Size { get; set; }

    /// <summary>One thread, or every core.</summary>
    [ParamsAllValues]
    public Cores Cores { get; set; }

    /// <summary>The sizes of this run (<see cref="BenchSettings.Sizes"/>: 64K, 1M, 16M, 64M unless --sizes says otherwise).</summary>
    public static IEnumerable<int> Sizes => BenchSettings.Sizes;

    /// <summary>Threads the hand-written columns split into: the generated overload's own rule for <see cref="Cores"/>.</summary>
    protected int Threads { get; private set; }

    /// <summary>The options passed to the generated overload.</summary>
    protected StepOptions Options => Chunks.OptionsFor(Cores);

    /// <summary>The parameter.</summary>
    protected float* P => _buffers![0];

    /// <summary>The gradient.</summary>
    protected float* G => _buffers![1];

    /// <summary>State buffer <paramref name="index"/> (0-based).</summary>
    protected float* S(int index) => _buffers![2 + index];

    /// <summary>The parameter as a span.</summary>
    protected Span<float> PSpan => _buffers!.Span(0);

    /// <summary>The gradient as a span.</summary>
    protected Span<float> GSpan => _buffers!.Span(1);

    /// <summary>State buffer <paramref name="index"/> as a span.</summary>
    protected Span<float> SSpan(int index) => _buffers!.Span(2 + index);

    /// <summary>Scratch buffer <paramref name="index"/> of the TensorPrimitives composition.</summary>
    protected float* Scratch(int index) => _scratch![index];

    /// <summary>How many per-element state buffers the optimizer keeps (in the configuration benchmarked).</summary>
    protected abstract int StateCount { get; }

    /// <summary>How many scratch buffers its TensorPrimitives composition needs.</summary>
    protected virtual int ScratchCount => 1;

    /// <summary>Fills the state buffers with plausible mid-training values.</summary>
    protected abstract void FillState(NativeBuffers buffers);

    /// <summary>The roofline twin over [start, start + length).</summary>
    protected abstract void RooflineChunk(int start, int length);

    /// <summary>The generated span overload over the whole tensor (it splits across threads itself).</summary>
    protected abstract void GeneratedStep();

    /// <summary>The hand-written fused Vector512 loop over [start, start + length).</summary>
    protected abstract void HandFusedChunk(int start, int length);

    /// <summary>The TensorPrimitives composition over [start, start + length).</summary>
    protected abstract void TensorPrimitivesChunk(int start, int length);

    /// <summary>The rule itself called once per element, on one thread.</summary>
    protected abstract void NaiveScalarStep();

    /// <summary>Creates TorchSharp's optimizer over one tensor of <paramref name="size"/> elements (on the current thread settings).</summary>
    protected abstract TorchStep CreateTorchStep(int size);

    /// <summary>Allocates and fills the native buffers.</summary>
    [GlobalSetup(Targets = new[] { nameof(RooflineTwin), nameof(Generated), nameof(HandFused), nameof(NaiveScalar) })]
    public void SetupSpans()
    {
        Threads = Chunks.ThreadsFor(Size, Cores);
        _buffers = new NativeBuffers(2 + StateCount, Size);
        _buffers.Fill(0, -1f, 1f, 1);
        _buffers.Fill(1, -1e-2f, 1e-2f, 2);
        FillState(_buffers);
        _roofline = RooflineChunk;
        _handFused = HandFusedChunk;
        _tensorPrimitives = TensorPrimitivesChunk;
    }

    /// <summary>The native buffers plus the composition's scratch buffers.</summary>
    [GlobalSetup(Target = nameof(TensorPrimitives))]
    public void SetupTensorPrimitives()
    {
        SetupSpans();
        _scratch = new NativeBuffers(ScratchCount, Size);
    }

    /// <summary>libtorch tensors and TorchSharp's optimizer, with the thread count of <see cref="Cores"/>.</summary>
    [GlobalSetup(Target = nameof(TorchSharp))]
    public void SetupTorch()
    {
        int threads = TorchThreads(Cores);
        torch.set_num_threads(threads);
        if (torch.get_num_threads() != threads)
            throw new InvalidOperationException($"torch.set_num_threads({threads}) left torch.get_num_threads() = {torch.get_num_threads()}.");
        _torch = CreateTorchStep(Size);
        _torch.Step(); // the first step creates the optimizer state; every timed step is a steady-state one
    }

    /// <summary>Frees everything the case allocated, so the next case starts with the memory returned.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _buffers?.Dispose();
        _scratch?.Dispose();
        _torch?.Dispose();
        _buffers = _scratch = null;
        _torch = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    /// <summary>(2) The roofline twin: the optimizer's loads and stores, trivial arithmetic. The baseline of every row group.</summary>
    [Benchmark(Baseline = true)]
    public void RooflineTwin() => Chunks.Run(Size, Threads, _roofline);

    /// <summary>(1) The generated span overload, default options for all cores, <see cref="StepOptions.SingleThreaded"/> for one.</summary>
    [Benchmark]
    public void Generated() => GeneratedStep();

    /// <summary>(3) What an expert writes by hand: one fused Vector512 loop, split into the same chunks.</summary>
    [Benchmark]
    public void HandFused() => Chunks.Run(Size, Threads, _handFused);

    /// <summary>(4) A TensorPrimitives composition: one pass over memory per operation (per chunk when all cores).</summary>
    [Benchmark]
    public void TensorPrimitives() => Chunks.Run(Size, Threads, _tensorPrimitives);

    /// <summary>(5) The [UpdateRule] method called once per element (single-threaded only).</summary>
    [Benchmark]
    public void NaiveScalar() => NaiveScalarStep();

    /// <summary>(6) TorchSharp's optimizer step (libtorch's CPU kernels) with torch.set_num_threads(1 or all).</summary>
    [Benchmark]
    public void TorchSharp() => _torch!.Step();

    /// <summary>The intra-op thread count TorchSharp is given for <paramref name="cores"/>.</summary>
    public static int TorchThreads(Cores cores) => cores == Cores.All ? Environment.ProcessorCount : 1;

    /// <summary>
    /// Runs every column but TorchSharp once from the same starting state and checks it against the naive loop:
    /// the generated and hand-written steps bit for bit, the TensorPrimitives composition (other rounding order) within 1e-6.
    /// Returns a line per column.
    /// </summary>
    public IEnumerable<string> Verify(int size, Cores cores)
    {
        Size = size;
        Cores = cores;
        SetupTensorPrimitives();
        try
        {
            int count = 2 + StateCount;
            var initial = new float[count][];
            for (int b = 0; b < count; b++)
                initial[b] = _buffers!.Span(b).ToArray();
            void Restore()
            {
                for (int b = 0; b < count; b++)
                    initial[b].CopyTo(_buffers!.Span(b));
            }
            float[][] Snapshot()
            {
                var s = new float[count][];
                for (int b = 0; b < count; b++)
                    s[b] = _buffers!.Span(b).ToArray();
                return s;
            }

            NaiveScalar();
            float[][] expected = Snapshot();
            var results = new List<string>();
            foreach (var (name, run, exact) in new (string, Action, bool)[]
            {
                (nameof(Generated), Generated, true),
                (nameof(HandFused), HandFused, true),
                (nameof(TensorPrimitives), TensorPrimitives, false),
            })
            {
                Restore();
                run();
                float[][] actual = Snapshot();
                double worst = 0;
                long differing = 0;
                for (int b = 0; b < count; b++)
                {
                    for (int i = 0; i < size; i++)
                    {
                        float e = expected[b][i], a = actual[b][i];
                        if (BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(a))
                            continue;
                        differing++;
                        // relative error for values of magnitude >= 1, absolute below (parameters cross zero)
                        double rel = Math.Abs(e - a) / Math.Max(Math.Abs((double)e), 1.0);
                        worst = Math.Max(worst, rel);
                    }
                }
                bool ok = exact ? differing == 0 : worst <= 1e-6;
                results.Add($"{GetType().Name,-28} {cores,-3} n={size,-9} {name,-17} {(ok ? "ok  " : "FAIL")} " +
                            $"{differing} elements differ from the naive loop, worst error {worst:G3}" +
                            (exact ? " (must be bit-identical)" : " (tolerance 1e-6, relative above 1, absolute below)"));
            }
            return results;
        }
        finally
        {
            Cleanup();
        }
    }
}

/// <summary>One TorchSharp optimizer over its own tensors; <see cref="Step"/> runs one optimizer step.</summary>
public abstract class TorchStep : IDisposable
{
    /// <summary>One step.</summary>
    public abstract void Step();

    /// <inheritdoc />
    public abstract void Dispose();
}

/// <summary>A <c>torch.optim</c> optimizer over parameters whose gradients are set once.</summary>
public sealed class TorchOptimizerStep : TorchStep
{
    private readonly torch.optim.Optimizer _optimizer;
    private readonly IReadOnlyList<torch.Tensor> _owned;

    /// <summary>Wraps <paramref name="optimizer"/>; <paramref name="owned"/> are disposed with it.</summary>
    public TorchOptimizerStep(torch.optim.Optimizer optimizer, IReadOnlyList<torch.Tensor> owned)
    {
        _optimizer = optimizer;
        _owned = owned;
    }

    /// <summary>Parameters of <paramref name="sizes"/> elements with values and gradients from the benchmark's ranges.</summary>
    public static List<TorchSharp.Modules.Parameter> MakeParameters(IEnumerable<int> sizes)
    {
        var list = new List<TorchSharp.Modules.Parameter>();
        foreach (int size in sizes)
        {
            var p = new TorchSharp.Modules.Parameter(torch.rand(size) * 2 - 1);
            p.grad = (torch.rand(size) * 2 - 1) * 1e-2;
            list.Add(p);
        }
        return list;
    }

    /// <inheritdoc />
    public override void Step() => _optimizer.step();

    /// <inheritdoc />
    public override void Dispose()
    {
        if (_optimizer is IDisposable d)
            d.Dispose();
        foreach (var t in _owned)
        {
            t.grad?.Dispose();
            t.Dispose();
        }
    }
}

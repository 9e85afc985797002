using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;

namespace Kernels.Benchmarks;

/// <summary>
/// AdamW's fused loop on one thread at an L3-resident size (1M parameters, 16 MB of buffers), in the shapes the
/// generated loop could take: the hand-written loop of <see cref="Optimizers.AdamWBenchmark"/> (baseline), the
/// generated span overload, and hand variants that each change one thing — a gradient-scale multiply on load (what
/// the generated loop does for the optimizer objects' fused clip), a 4x unroll, software prefetch at two distances,
/// non-temporal stores, and the tensor walked in 64K-element chunks. Every variant is bit-identical to the rule.
/// Run with <c>--filter '*LoopShapeBenchmark*'</c> (about a minute), or interleaved: <c>--probe LoopShape</c>.
/// Results: results/2026-11-29-l3-gap.md.
/// </summary>
[StreamedBytes(28, "read p,g,m,v; write p,m,v")]
public unsafe class LoopShapeBenchmark
{
    private const int StepNumber = 10;
    private const double Lr = 1e-3, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8, WeightDecay = 1e-2;

    private NativeBuffers? _buffers;
    private float _gradScale = 1f; // a field, not a constant: the JIT must not fold the multiply away

    /// <summary>Parameters per tensor: 1M unless <c>--sizes</c> says otherwise.</summary>
    [ParamsSource(nameof(Sizes))]
    public int Size { get; set; }

    /// <summary>1M (L3-resident), or the sizes of <c>--sizes</c> when given.</summary>
    public static IEnumerable<int> Sizes =>
        ReferenceEquals(BenchSettings.Sizes, BenchSettings.DefaultSizes) ? [1 << 20] : BenchSettings.Sizes;

    private float* P => _buffers![0];
    private float* G => _buffers![1];
    private float* M => _buffers![2];
    private float* V => _buffers![3];

    /// <summary>A copy of buffer <paramref name="index"/> (0 p, 1 g, 2 m, 3 v), for the probe's bit-for-bit check.</summary>
    public float[] Buffer(int index) => _buffers!.Span(index).ToArray();

    /// <summary>Allocates and fills the buffers with the values <see cref="Optimizers.AdamWBenchmark"/> uses.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _buffers = new NativeBuffers(4, Size);
        _buffers.Fill(0, -1f, 1f, 1);
        _buffers.Fill(1, -1e-2f, 1e-2f, 2);
        _buffers.Fill(2, -1e-3f, 1e-3f, 3);
        _buffers.Fill(3, 1e-6f, 1e-4f, 4);
        _gradScale = 1f;
    }

    /// <summary>Frees the buffers.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _buffers?.Dispose();
        _buffers = null;
    }

    /// <summary>The loop of <see cref="Optimizers.AdamWBenchmark"/>'s hand-written column: pointers, 2 vectors per iteration.</summary>
    [Benchmark(Baseline = true)]
    public void HandFused() => Hand<Unroll2, NoScale, NoPrefetch, PlainStore>(0, Size);

    /// <summary>The generated span overload, <see cref="StepOptions.SingleThreaded"/>.</summary>
    [Benchmark]
    public void Generated() =>
        AdamW.Step(_buffers!.Span(0), _buffers.Span(1), _buffers.Span(2), _buffers.Span(3), default, StepNumber, Lr, Beta1, Beta2, Eps, WeightDecay, options: StepOptions.SingleThreaded);

    /// <summary>The hand loop with the gradient multiplied by a scale of 1 as it is loaded (one more vmulps per vector).</summary>
    [Benchmark]
    public void HandGradScale() => Hand<Unroll2, Scale, NoPrefetch, PlainStore>(0, Size);

    /// <summary>The hand loop with the generated loop's gradient multiply and 4x unroll together.</summary>
    [Benchmark]
    public void HandGradScaleUnroll4() => Hand<Unroll4, Scale, NoPrefetch, PlainStore>(0, Size);

    /// <summary>The hand loop, 4 vectors per iteration (the generated loop's unroll).</summary>
    [Benchmark]
    public void HandUnroll4() => Hand<Unroll4, NoScale, NoPrefetch, PlainStore>(0, Size);

    /// <summary>The hand loop with <c>prefetcht0</c> on each of the four streams 1 KiB (16 lines) ahead.</summary>
    [Benchmark]
    public void HandPrefetch1K() => Hand<Unroll2, NoScale, Prefetch1K, PlainStore>(0, Size);

    /// <summary>The hand loop with <c>prefetcht0</c> on each of the four streams 4 KiB (64 lines) ahead.</summary>
    [Benchmark]
    public void HandPrefetch4K() => Hand<Unroll2, NoScale, Prefetch4K, PlainStore>(0, Size);

    /// <summary>The hand loop with non-temporal stores (<c>vmovntps</c>): written lines bypass the caches.</summary>
    [Benchmark]
    public void HandNonTemporal() => Hand<Unroll2, NoScale, NoPrefetch, NonTemporalStore>(0, Size);

    /// <summary>The hand loop over 64K-element chunks, one call each (what a block size would change on one thread).</summary>
    [Benchmark]
    public void HandChunks64K()
    {
        const int Chunk = 1 << 16;
        for (int start = 0; start < Size; start += Chunk)
            Hand<Unroll2, NoScale, NoPrefetch, PlainStore>(start, Math.Min(Chunk, Size - start));
    }

    // The variants are one loop with compile-time switches (generic struct arguments, as the generated loop's flags),
    // so each instantiation is compiled with only its own instructions.

    private interface ISwitch { static abstract bool On { get; } }
    private struct Unroll2 : ISwitch { public static bool On => false; }
    private struct Unroll4 : ISwitch { public static bool On => true; }
    private struct NoScale : ISwitch { public static bool On => false; }
    private struct Scale : ISwitch { public static bool On => true; }
    private struct PlainStore : ISwitch { public static bool On => false; }
    private struct NonTemporalStore : ISwitch { public static bool On => true; }
    private interface IPrefetch { static abstract int Bytes { get; } }
    private struct NoPrefetch : IPrefetch { public static int Bytes => 0; }
    private struct Prefetch1K : IPrefetch { public static int Bytes => 1024; }
    private struct Prefetch4K : IPrefetch { public static int Bytes => 4096; }

    // Not inlined: a tier-1 column method that inlined this loop ran out of inlining budget for Body and called it once
    // per vector with eight Vector512 arguments on the stack (2.5-3.5x slower; see the results file).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Hand<TUnroll4, TScale, TPrefetch, TNonTemporal>(int start, int length)
        where TUnroll4 : struct, ISwitch where TScale : struct, ISwitch where TPrefetch : struct, IPrefetch where TNonTemporal : struct, ISwitch
    {
        // Hoisted as AdamWBenchmark's hand loop does.
        double biasCorrection1 = 1 - Math.Pow(Beta1, StepNumber);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, StepNumber));
        var decay = Vector512.Create((float)(1 - Lr * WeightDecay));
        var weight = Vector512.Create((float)(1 - Beta1));
        var beta2 = Vector512.Create((float)Beta2);
        var oneMinusBeta2 = Vector512.Create((float)(1 - Beta2));
        var bc2 = Vector512.Create((float)biasCorrection2Sqrt);
        var eps = Vector512.Create((float)Eps);
        var stepSize = Vector512.Create((float)(-Lr / biasCorrection1));
        var gradScale = Vector512.Create(_gradScale);
        float* p = P + start, g = G + start, m = M + start, v = V + start;
        int i = 0;
        if (TUnroll4.On)
        {
            for (; i <= length - 64; i += 64)
            {
                Body<TScale, TPrefetch, TNonTemporal>(p, g, m, v, i, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize, gradScale);
                Body<TScale, TPrefetch, TNonTemporal>(p, g, m, v, i + 16, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize, gradScale);
                Body<TScale, TPrefetch, TNonTemporal>(p, g, m, v, i + 32, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize, gradScale);
                Body<TScale, TPrefetch, TNonTemporal>(p, g, m, v, i + 48, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize, gradScale);
            }
        }
        else
        {
            for (; i <= length - 32; i += 32)
            {
                Body<TScale, TPrefetch, TNonTemporal>(p, g, m, v, i, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize, gradScale);
                Body<TScale, TPrefetch, TNonTemporal>(p, g, m, v, i + 16, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize, gradScale);
            }
        }
        for (; i <= length - 16; i += 16)
            Body<TScale, TPrefetch, TNonTemporal>(p, g, m, v, i, decay, weight, beta2, oneMinusBeta2, bc2, eps, stepSize, gradScale);
        if (TNonTemporal.On)
            Sse.StoreFence();
        // Sizes here are multiples of 16: no scalar tail.
        if (i != length)
            throw new InvalidOperationException("LoopShapeBenchmark sizes must be multiples of 16.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Body<TScale, TPrefetch, TNonTemporal>(float* p, float* g, float* m, float* v, int i,
        Vector512<float> decay, Vector512<float> weight, Vector512<float> beta2, Vector512<float> oneMinusBeta2,
        Vector512<float> bc2, Vector512<float> eps, Vector512<float> stepSize, Vector512<float> gradScale)
        where TScale : struct, ISwitch where TPrefetch : struct, IPrefetch where TNonTemporal : struct, ISwitch
    {
        if (TPrefetch.Bytes > 0)
        {
            Sse.Prefetch0((byte*)(p + i) + TPrefetch.Bytes);
            Sse.Prefetch0((byte*)(g + i) + TPrefetch.Bytes);
            Sse.Prefetch0((byte*)(m + i) + TPrefetch.Bytes);
            Sse.Prefetch0((byte*)(v + i) + TPrefetch.Bytes);
        }
        var gv = Vector512.Load(g + i);
        if (TScale.On)
            gv *= gradScale;
        var mv = Vector512.Load(m + i);
        var vv = Vector512.Load(v + i);
        var pv = Vector512.Load(p + i) * decay;
        mv = Vector512.FusedMultiplyAdd(weight, gv - mv, mv);
        vv = Vector512.FusedMultiplyAdd(oneMinusBeta2 * gv, gv, vv * beta2);
        var denom = Vector512.Sqrt(vv) / bc2 + eps;
        pv += stepSize * mv / denom;
        if (TNonTemporal.On)
        {
            Vector512.StoreAlignedNonTemporal(pv, p + i);
            Vector512.StoreAlignedNonTemporal(mv, m + i);
            Vector512.StoreAlignedNonTemporal(vv, v + i);
        }
        else
        {
            Vector512.Store(pv, p + i);
            Vector512.Store(mv, m + i);
            Vector512.Store(vv, v + i);
        }
    }
}

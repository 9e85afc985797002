using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;
using Kernels.Precision;
using Kernels.Training;

namespace Kernels.Benchmarks;

/// <summary>
/// AdamW's step with fewer bytes per parameter (the precision issue: speed in proportion to bytes), side by side with
/// the float32 step (the baseline, 28 B per parameter) and roofline twins of the same traffic:
/// <list type="bullet">
/// <item>bf16 parameters and gradients, float32 state (the storage overload): 20 B; with stochastic rounding of the
/// parameters too;</item>
/// <item>the optimizer object with 8-bit blockwise state (float32 parameters and gradients): 12 B + 2 × (1 + 1/64) B ≈
/// 16.06 B, beside the same object with float32 state (28 B);</item>
/// <item>the optimizer object with bf16 parameters and gradients: float32 state (20 B), 8-bit state (6 B + 2 × (1 + 1/64)
/// B ≈ 10.06 B, the issue's ≈ 10 B row); with a bf16 compensation per parameter (Kahan-style, float32 state: 24 B,
/// the compensation read and written beside the parameter).</item>
/// </list>
/// The target: each variant's speed-up over float32 at least 0.9 × its byte ratio (28/20 = 1.4 → 1.26×; 28/16.06 =
/// 1.74 → 1.57×; 28/10.06 = 2.78 → 2.5×).
/// </summary>
[StreamedBytes(28, "read p,g,m,v; write p,m,v (fp32)")]
public unsafe class PrecisionBenchmark
{
    private const int StepNumber = 10;
    private NativeBuffers? _float;
    private BFloat16[]? _param16, _grad16;
    private float[]? _expAvg, _expAvgSq;
    private AdamW.Optimizer? _objectFull, _object8Bit, _objectBf16, _objectBf16With8Bit, _objectBf16Compensated;

    /// <summary>The number of parameters.</summary>
    [ParamsSource(nameof(Sizes))]
    public int Size { get; set; }

    /// <summary>The sizes of this run (<see cref="BenchSettings.Sizes"/>; the precision issue measures 16M and 64M: --sizes 16M,64M).</summary>
    public static IEnumerable<int> Sizes => BenchSettings.Sizes;

    /// <summary>One thread, or every core.</summary>
    [ParamsAllValues]
    public Cores Cores { get; set; }

    private int Threads => Chunks.ThreadsFor(Size, Cores);

    /// <summary>Allocates what every row needs (each row only touches its own buffers).</summary>
    [GlobalSetup]
    public void Setup()
    {
        _float = new NativeBuffers(4, Size);
        _float.Fill(0, -1f, 1f, 1);
        _float.Fill(1, -1e-2f, 1e-2f, 2);
        _float.Fill(2, -1e-3f, 1e-3f, 3);
        _float.Fill(3, 1e-6f, 1e-4f, 4);

        _param16 = GC.AllocateUninitializedArray<BFloat16>(Size, pinned: true);
        _grad16 = GC.AllocateUninitializedArray<BFloat16>(Size, pinned: true);
        BFloat16Conversions.FromSingle(_float.Span(0), _param16);
        BFloat16Conversions.FromSingle(_float.Span(1), _grad16);
        _expAvg = _float.Span(2).ToArray();
        _expAvgSq = _float.Span(3).ToArray();

        _objectFull = MakeObject(null);
        _object8Bit = MakeObject(StatePrecision.Blockwise8Bit());
        _objectBf16 = MakeBf16Object(null);
        _objectBf16With8Bit = MakeBf16Object(StatePrecision.Blockwise8Bit());
        _objectBf16Compensated = MakeBf16Object(null, ParameterPrecision.Compensated);
    }

    private AdamW.Optimizer MakeBf16Object(StatePrecision? precision, ParameterPrecision? parameterPrecision = null)
    {
        // bf16 values and gradient (round to nearest), state allocated and warmed by a first step.
        var p = new Parameter<BFloat16>("w", Size);
        _param16.AsSpan().CopyTo(p.Data.Span);
        _grad16.AsSpan().CopyTo(p.Grad.Span);
        var optimizer = new AdamW.Optimizer(new Parameter[] { p }, stepOptions: Chunks.OptionsFor(Cores), statePrecision: precision,
            parameterPrecision: parameterPrecision);
        optimizer.Step();
        return optimizer;
    }

    private AdamW.Optimizer MakeObject(StatePrecision? precision)
    {
        // Its own parameter copy and gradient, state allocated and warmed by a first step.
        var p = new Parameter<float>("w", Size);
        _float!.Span(0).CopyTo(p.Data.Span);
        _float.Span(1).CopyTo(p.Grad.Span);
        var optimizer = new AdamW.Optimizer(new[] { p }, stepOptions: Chunks.OptionsFor(Cores), statePrecision: precision);
        optimizer.Step();
        return optimizer;
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _float?.Dispose();
        _float = null;
        _param16 = _grad16 = null;
        _expAvg = _expAvgSq = null;
        _objectFull = _object8Bit = _objectBf16 = _objectBf16With8Bit = _objectBf16Compensated = null;
        GC.Collect();
    }

    /// <summary>The float32 step (span overload): the baseline.</summary>
    [Benchmark(Baseline = true)]
    public void Float32() =>
        AdamW.Step(_float!.Span(0), _float.Span(1), _float.Span(2), _float.Span(3), default, StepNumber, options: Chunks.OptionsFor(Cores));

    /// <summary>The roofline twin of 28 B per element.</summary>
    [Benchmark]
    public void Roofline28B() => Chunks.Run(Size, Threads, (start, length) =>
        Roofline.ReadWrite3Read1(_float![0] + start, _float[2] + start, _float[3] + start, _float[1] + start, length));

    /// <summary>bf16 parameters and gradients, float32 state, round to nearest.</summary>
    [Benchmark]
    [StreamedBytes(20, "read p16,g16,m,v; write p16,m,v")]
    public void Bf16ParamsGrads() =>
        AdamW.Step<BFloat16, BFloat16, float>(_param16, _grad16, _expAvg, _expAvgSq, default, StepNumber, options: Chunks.OptionsFor(Cores));

    /// <summary>The same with stochastic rounding of the parameters (keyed by seed, step, element).</summary>
    [Benchmark]
    [StreamedBytes(20, "read p16,g16,m,v; write p16,m,v")]
    public void Bf16ParamsGradsStochastic() =>
        AdamW.Step<BFloat16, BFloat16, float>(_param16, _grad16, _expAvg, _expAvgSq, default, StepNumber,
            options: Chunks.OptionsFor(Cores) with { Rounding = new StochasticRounding(seed: 7, step: StepNumber) });

    /// <summary>The roofline twin of 20 B per element (two float buffers read and written, one read).</summary>
    [Benchmark]
    [StreamedBytes(20, "read a,b,g; write a,b")]
    public void Roofline20B() => Chunks.Run(Size, Threads, (start, length) =>
        Roofline.ReadWrite2Read1(_float![2] + start, _float[3] + start, _float[1] + start, length));

    /// <summary>The optimizer object with float32 state (one tensor).</summary>
    [Benchmark]
    public void ObjectFloat32State() => _objectFull!.Step();

    /// <summary>The optimizer object with 8-bit blockwise state (one tensor).</summary>
    [Benchmark]
    [StreamedBytes(16.0625, "read p,g,m8,v8 (+scales); write p,m8,v8 (+scales)")]
    public void Object8BitState() => _object8Bit!.Step();

    /// <summary>The optimizer object with bf16 parameters and gradients, float32 state.</summary>
    [Benchmark]
    [StreamedBytes(20, "read p16,g16,m,v; write p16,m,v")]
    public void ObjectBf16Params() => _objectBf16!.Step();

    /// <summary>The optimizer object with bf16 parameters and gradients and 8-bit blockwise state.</summary>
    [Benchmark]
    [StreamedBytes(10.0625, "read p16,g16,m8,v8 (+scales); write p16,m8,v8 (+scales)")]
    public void ObjectBf16Params8BitState() => _objectBf16With8Bit!.Step();

    /// <summary>The optimizer object with bf16 parameters and gradients, a bf16 compensation per parameter, float32 state.</summary>
    [Benchmark]
    [StreamedBytes(24, "read p16,c16,g16,m,v; write p16,c16,m,v")]
    public void ObjectBf16ParamsCompensated() => _objectBf16Compensated!.Step();

    /// <summary>The roofline twin of 16 B per element (two float buffers read and written).</summary>
    [Benchmark]
    [StreamedBytes(16, "read a,b; write a,b")]
    public void Roofline16B() => Chunks.Run(Size, Threads, (start, length) =>
        Roofline.ReadWrite2(_float![2] + start, _float[3] + start, length));
}

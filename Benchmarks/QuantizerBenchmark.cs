using System;
using BenchmarkDotNet.Attributes;
using Kernels.Precision;

namespace Kernels.Benchmarks;

/// <summary>
/// 8-bit blockwise quantization and dequantization of data in L1 (16 blocks of 256, 16 KB of floats), today's
/// <see cref="BlockwiseQuantizer"/> beside the code it replaced (<see cref="LegacyBlockwiseQuantizer"/>, the bucketed
/// search and gathers). Times are per call over 4,096 elements (<c>OperationsPerInvoke</c>), so the Mean column reads
/// as nanoseconds per element. Values: the signed map's block ~ uniform in ±1e-3 (a first moment), the unsigned one's
/// products of two uniforms times 1e-6 (a second moment, dense near 0). Run with <c>--filter '*QuantizerBenchmark*'</c>.
/// </summary>
public class QuantizerBenchmark
{
    private const int Blocks = 16;
    private const int Length = Blocks * BlockwiseQuantizer.BlockSize;

    private BlockwiseQuantizer _quantizer = BlockwiseQuantizer.Signed;
    private LegacyBlockwiseQuantizer? _legacy;
    private readonly float[] _values = new float[Length];
    private readonly float[] _decoded = new float[Length];
    private readonly byte[] _codes = new byte[Length];
    private readonly float[] _absmax = new float[Blocks];

    /// <summary>The signed map (first moments) or the unsigned one (second moments).</summary>
    [ParamsAllValues]
    public bool Signed { get; set; }

    /// <summary>Fills the block and its codes.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _quantizer = Signed ? BlockwiseQuantizer.Signed : BlockwiseQuantizer.Unsigned;
        _legacy = new LegacyBlockwiseQuantizer(_quantizer);
        var random = new Random(1);
        for (int i = 0; i < Length; i++)
            _values[i] = Signed ? (random.NextSingle() * 2 - 1) * 1e-3f : random.NextSingle() * random.NextSingle() * 1e-6f;
        _quantizer.Quantize(_values, _codes, _absmax);
        var check = new byte[Length];
        for (int b = 0; b < Blocks; b++)
            _legacy.QuantizeBlock(_values.AsSpan(b * BlockwiseQuantizer.BlockSize, BlockwiseQuantizer.BlockSize), check.AsSpan(b * BlockwiseQuantizer.BlockSize));
        if (!check.AsSpan().SequenceEqual(_codes))
            throw new InvalidOperationException("The legacy and current quantizers disagree.");
    }

    /// <summary>Quantization as it was: the bucketed search, AVX2 gathers.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Length)]
    public void QuantizeLegacy()
    {
        for (int b = 0; b < Blocks; b++)
            _absmax[b] = _legacy!.QuantizeBlock(_values.AsSpan(b * BlockwiseQuantizer.BlockSize, BlockwiseQuantizer.BlockSize), _codes.AsSpan(b * BlockwiseQuantizer.BlockSize));
    }

    /// <summary>Quantization now: the decade guess and one threshold comparison.</summary>
    [Benchmark(OperationsPerInvoke = Length)]
    public void Quantize()
    {
        for (int b = 0; b < Blocks; b++)
            _absmax[b] = _quantizer.QuantizeBlock(_values.AsSpan(b * BlockwiseQuantizer.BlockSize, BlockwiseQuantizer.BlockSize), _codes.AsSpan(b * BlockwiseQuantizer.BlockSize));
    }

    /// <summary>Dequantization as it was: two 8-lane gathers per 16 codes.</summary>
    [Benchmark(OperationsPerInvoke = Length)]
    public void DequantizeLegacy()
    {
        for (int b = 0; b < Blocks; b++)
            _legacy!.DequantizeBlock(_codes.AsSpan(b * BlockwiseQuantizer.BlockSize, BlockwiseQuantizer.BlockSize), _absmax[b], _decoded.AsSpan(b * BlockwiseQuantizer.BlockSize));
    }

    /// <summary>Dequantization now: byte-plane permutes, 64 codes at a time (AVX-512 VBMI).</summary>
    [Benchmark(OperationsPerInvoke = Length)]
    public void Dequantize()
    {
        for (int b = 0; b < Blocks; b++)
            _quantizer.DequantizeBlock(_codes.AsSpan(b * BlockwiseQuantizer.BlockSize, BlockwiseQuantizer.BlockSize), _absmax[b], _decoded.AsSpan(b * BlockwiseQuantizer.BlockSize));
    }
}

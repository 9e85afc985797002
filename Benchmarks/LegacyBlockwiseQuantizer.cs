using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kernels.Precision;

namespace Kernels.Benchmarks;

/// <summary>
/// The block quantizer and dequantizer as they were before the quantizer issue (commit 38968fc,
/// Runtime/Precision/BlockwiseQuantizer.cs), copied here so that <see cref="QuantizerBenchmark"/> can time them side by
/// side with today's: quantization by the bucketed search (one table gather and one or two midpoint gathers per eight
/// lanes, AVX2), dequantization by two 8-lane gathers per sixteen codes. Built on the public map, the same codes; used
/// by nothing but the benchmark.
/// </summary>
internal sealed unsafe class LegacyBlockwiseQuantizer
{
    private const int Codes = DynamicQuantizationMap.Size;
    private const int BucketShift = 15;
    private const int LowestBucketedBits = 0x3280_0000;
    private const int BucketsPerSign = (0x3F80_0000 >> BucketShift) - (LowestBucketedBits >> BucketShift) + 2;

    private readonly BlockwiseQuantizer _quantizer;   // Encode (the scalar tail) and AbsMax
    private readonly float[] _map, _paddedMidpoints;
    private readonly byte[] _buckets;
    private readonly float* _mapPointer, _paddedMidpointPointer;
    private readonly byte* _bucketPointer;
    private readonly int _bucketMidpoints;

    public LegacyBlockwiseQuantizer(BlockwiseQuantizer quantizer)
    {
        _quantizer = quantizer;
        _map = GC.AllocateArray<float>(Codes, pinned: true);
        quantizer.Map.CopyTo(_map);
        var midpoints = new float[Codes];
        for (int k = 0; k < Codes - 1; k++)
            midpoints[k] = (_map[k] + _map[k + 1]) * 0.5f;
        midpoints[Codes - 1] = float.PositiveInfinity;
        _buckets = BuildBuckets(midpoints, out _bucketMidpoints);
        _paddedMidpoints = GC.AllocateArray<float>(Codes + _bucketMidpoints, pinned: true);
        _paddedMidpoints.AsSpan().Fill(float.PositiveInfinity);
        midpoints.AsSpan(0, Codes - 1).CopyTo(_paddedMidpoints);
        _mapPointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_map));
        _paddedMidpointPointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_paddedMidpoints));
        _bucketPointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_buckets));
    }

    /// <summary>The old QuantizeBlockUnchecked.</summary>
    public float QuantizeBlock(ReadOnlySpan<float> block, Span<byte> codes)
    {
        float absmax = BlockwiseQuantizer.AbsMax(block);
        if (!(absmax > 0f))
        {
            codes[..block.Length].Fill(_quantizer.ZeroCode);
            return absmax;
        }
        int n = block.Length, i = 0;
        if (Avx2.IsSupported)
        {
            ref float source = ref MemoryMarshal.GetReference(block);
            ref byte destination = ref MemoryMarshal.GetReference(codes);
            Vector256<float> scale = Vector256.Create(absmax);
            for (; i <= n - 16; i += 16)
            {
                Vector256<int> low = EncodeBucketed(Vector256.LoadUnsafe(ref source, (nuint)i) / scale);
                Vector256<int> high = EncodeBucketed(Vector256.LoadUnsafe(ref source, (nuint)i + 8) / scale);
                Vector256<short> words = Vector256.Narrow(low, high);
                Vector256.Narrow(words, words).GetLower().AsByte().StoreUnsafe(ref destination, (nuint)i);
            }
        }
        for (; i < n; i++)
            codes[i] = _quantizer.Encode(block[i] / absmax);
        return absmax;
    }

    /// <summary>The old DequantizeRun.</summary>
    public void DequantizeBlock(ReadOnlySpan<byte> codeSpan, float absmax, Span<float> values)
    {
        ref byte codes = ref MemoryMarshal.GetReference(codeSpan);
        ref float destination = ref MemoryMarshal.GetReference(values);
        int length = codeSpan.Length, i = 0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            Vector512<float> scale = Vector512.Create(absmax);
            for (; i <= length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                Vector512<int> indices = Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref codes, (nuint)i));
                Vector512<float> decoded = Vector512.Create(
                    Avx2.GatherVector256(_mapPointer, indices.GetLower() & Vector256.Create(0xFF), 4),
                    Avx2.GatherVector256(_mapPointer, indices.GetUpper() & Vector256.Create(0xFF), 4));
                (decoded * scale).StoreUnsafe(ref destination, (nuint)i);
            }
        }
        for (; i < length; i++)
            Unsafe.Add(ref destination, i) = _mapPointer[Unsafe.Add(ref codes, i)] * absmax;
    }

    private static byte[] BuildBuckets(float[] midpoints, out int most)
    {
        var buckets = GC.AllocateArray<byte>(2 * BucketsPerSign + 3, pinned: true);
        most = 0;
        for (int k = 0; k < BucketsPerSign; k++)
        {
            uint low = k == 0 ? 0u : (uint)((k - 1 + (LowestBucketedBits >> BucketShift)) << BucketShift);
            uint high = k == 0 ? LowestBucketedBits - 1u : low + (1u << BucketShift) - 1;
            foreach (bool negative in new[] { false, true })
            {
                float lo = negative ? -BitConverter.UInt32BitsToSingle(high) : BitConverter.UInt32BitsToSingle(low);
                float hi = negative ? -BitConverter.UInt32BitsToSingle(low) : BitConverter.UInt32BitsToSingle(high);
                int below = 0, inside = 0;
                for (int j = 0; j < Codes - 1; j++)
                {
                    if (midpoints[j] < lo)
                        below++;
                    else if (midpoints[j] <= hi)
                        inside++;
                }
                buckets[negative ? BucketsPerSign - 1 - k : BucketsPerSign + k] = (byte)below;
                most = Math.Max(most, inside);
            }
        }
        return buckets;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<int> EncodeBucketed(Vector256<float> y)
    {
        Vector256<int> bits = y.AsInt32();
        Vector256<int> k = Vector256.Max(
            Vector256.ShiftRightLogical(bits & Vector256.Create(0x7FFF_FFFF), BucketShift) - Vector256.Create((LowestBucketedBits >> BucketShift) - 1),
            Vector256<int>.Zero);
        Vector256<int> negative = Vector256.ShiftRightArithmetic(bits, 31);
        Vector256<int> index = Vector256.ConditionalSelect(negative, Vector256.Create(BucketsPerSign - 1) - k, Vector256.Create(BucketsPerSign) + k);
        Vector256<int> first = Avx2.GatherVector256((int*)_bucketPointer, index, 1) & Vector256.Create(0xFF);
        Vector256<int> code = first;
        Vector256<int> tie = Vector256<int>.Zero;
        for (int j = 0; j < _bucketMidpoints; j++)
        {
            Vector256<float> midpoint = Avx2.GatherVector256(_paddedMidpointPointer, first + Vector256.Create(j), 4);
            code -= Vector256.LessThan(midpoint, y).AsInt32();
            tie |= Vector256.Equals(midpoint, y).AsInt32();
        }
        return code + (tie & code & Vector256<int>.One);
    }
}

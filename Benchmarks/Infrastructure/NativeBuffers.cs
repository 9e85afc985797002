using System;
using System.Runtime.InteropServices;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>
/// A set of equally long fp32 buffers in native memory, 64-byte aligned (a cache line, one Vector512), filled once and
/// freed deterministically, so a 64M-element case (about 1.3 GB) is returned to the OS before the next case starts.
/// libtorch aligns its own tensors to 64 bytes too, so every column streams equally aligned memory.
/// </summary>
public sealed unsafe class NativeBuffers : IDisposable
{
    private readonly float*[] _buffers;

    /// <summary>Allocates <paramref name="count"/> buffers of <paramref name="length"/> floats, all zero.</summary>
    public NativeBuffers(int count, int length)
    {
        Length = length;
        _buffers = new float*[count];
        for (int i = 0; i < count; i++)
        {
            _buffers[i] = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(length, 1) * sizeof(float), 64);
            new Span<float>(_buffers[i], length).Clear(); // first touch: every page is mapped before timing
        }
    }

    /// <summary>Elements per buffer.</summary>
    public int Length { get; }

    /// <summary>The start of buffer <paramref name="index"/>.</summary>
    public float* this[int index] => _buffers[index];

    /// <summary>Buffer <paramref name="index"/> as a span.</summary>
    public Span<float> Span(int index) => new(_buffers[index], Length);

    /// <summary>Fills buffer <paramref name="index"/> with uniform values in [<paramref name="low"/>, <paramref name="high"/>) from a fixed seed.</summary>
    public void Fill(int index, float low, float high, uint seed)
    {
        // xorshift32: fast enough to fill 64M floats in a fraction of a second, and deterministic.
        uint state = seed | 1;
        float* p = _buffers[index];
        float scale = (high - low) / (1 << 24);
        for (int i = 0; i < Length; i++)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            p[i] = low + (state >> 8) * scale;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        for (int i = 0; i < _buffers.Length; i++)
        {
            if (_buffers[i] != null)
                NativeMemory.AlignedFree(_buffers[i]);
            _buffers[i] = null;
        }
    }
}

using System;
using System.Buffers;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>A <see cref="Memory{T}"/> over native memory the suite owns (for the multi-tensor overload, which takes <c>Memory&lt;float&gt;</c> lists).</summary>
public sealed unsafe class NativeMemoryManager : MemoryManager<float>
{
    private readonly float* _pointer;
    private readonly int _length;

    /// <summary>Wraps <paramref name="length"/> floats at <paramref name="pointer"/>; the caller keeps them alive.</summary>
    public NativeMemoryManager(float* pointer, int length)
    {
        _pointer = pointer;
        _length = length;
    }

    /// <inheritdoc />
    public override Span<float> GetSpan() => new(_pointer, _length);

    /// <inheritdoc />
    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    /// <inheritdoc />
    public override void Unpin()
    {
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
    }
}

using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Threading.Tasks;

namespace Kernels.CompilerServices;

/// <summary>
/// A chunk of a generated step: runs the fused loop over <c>[start, start + length)</c> of every
/// per-element buffer. Implemented by generated code; not meant to be implemented by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IChunkKernel<T> where T : unmanaged
{
    /// <summary>Runs the step over one chunk of the pinned buffers.</summary>
    void Execute(in PinnedBuffers<T> buffers, int start, int length);
}

/// <summary>
/// Addresses of up to <see cref="MaxBuffers"/> per-element buffers that <see cref="ParallelStep"/>
/// keeps pinned while worker threads run. Generated code turns them back into spans per chunk.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly unsafe struct PinnedBuffers<T> where T : unmanaged
{
    /// <summary>How many buffers one parallel step can carry.</summary>
    public const int MaxBuffers = 8;

    private readonly nint _a0, _a1, _a2, _a3, _a4, _a5, _a6, _a7;

    internal PinnedBuffers(T* a0, T* a1, T* a2, T* a3, T* a4, T* a5, T* a6, T* a7)
    {
        _a0 = (nint)a0; _a1 = (nint)a1; _a2 = (nint)a2; _a3 = (nint)a3;
        _a4 = (nint)a4; _a5 = (nint)a5; _a6 = (nint)a6; _a7 = (nint)a7;
    }

    /// <summary>The elements <c>[start, start + length)</c> of buffer <paramref name="index"/>, or an empty span for a buffer that was not supplied.</summary>
    public Span<T> Slice(int index, int start, int length)
    {
        nint address = index switch
        {
            0 => _a0, 1 => _a1, 2 => _a2, 3 => _a3, 4 => _a4, 5 => _a5, 6 => _a6, 7 => _a7,
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };
        // An empty span pins to null: that buffer is unused by this configuration of the rule.
        return address == 0 ? default : new Span<T>((T*)address + start, length);
    }

    /// <summary>
    /// The elements <c>[start, start + length)</c> of buffer <paramref name="index"/> read as <typeparamref name="TElement"/>
    /// (a storage step pins its buffers of different element types as bytes), or an empty span for a buffer that was not supplied.
    /// </summary>
    /// <typeparam name="TElement">The buffer's element type; <paramref name="start"/> and <paramref name="length"/> count its elements.</typeparam>
    public Span<TElement> SliceAs<TElement>(int index, int start, int length) where TElement : unmanaged
    {
        nint address = index switch
        {
            0 => _a0, 1 => _a1, 2 => _a2, 3 => _a3, 4 => _a4, 5 => _a5, 6 => _a6, 7 => _a7,
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };
        return address == 0 ? default : new Span<TElement>((TElement*)address + start, length);
    }
}

/// <summary>Splits one generated step across threads in chunks aligned to the vector block.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ParallelStep
{
    /// <summary>Chunks handed to threads are multiples of this many elements (keeps chunk starts 4 KiB-aligned relative to the span for float).</summary>
    public const int ChunkAlignment = 1024;

    /// <summary>
    /// Pins the buffers and runs <paramref name="kernel"/> over <paramref name="threads"/> contiguous
    /// chunks of <paramref name="length"/> elements, each (but the last) a multiple of <paramref name="blockSize"/>.
    /// Static partitioning: the step is uniform, memory-bound work, so equal chunks keep every core streaming.
    /// </summary>
    public static unsafe void Run<T, TKernel>(
        TKernel kernel, int length, int threads, int blockSize,
        ReadOnlySpan<T> b0, ReadOnlySpan<T> b1 = default, ReadOnlySpan<T> b2 = default, ReadOnlySpan<T> b3 = default,
        ReadOnlySpan<T> b4 = default, ReadOnlySpan<T> b5 = default, ReadOnlySpan<T> b6 = default, ReadOnlySpan<T> b7 = default)
        where T : unmanaged
        where TKernel : struct, IChunkKernel<T>
    {
        fixed (T* p0 = b0) fixed (T* p1 = b1) fixed (T* p2 = b2) fixed (T* p3 = b3)
        fixed (T* p4 = b4) fixed (T* p5 = b5) fixed (T* p6 = b6) fixed (T* p7 = b7)
        {
            var buffers = new PinnedBuffers<T>(p0, p1, p2, p3, p4, p5, p6, p7);
            if (threads <= 1)
            {
                kernel.Execute(buffers, 0, length);
                return;
            }
            int perThread = (length + threads - 1) / threads;
            int chunk = (perThread + blockSize - 1) / blockSize * blockSize;
            int chunks = (length + chunk - 1) / chunk;
            var fault = new FirstFault();
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
            {
                try
                {
                    int start = i * chunk;
                    kernel.Execute(buffers, start, Math.Min(chunk, length - start));
                }
                catch (Exception e)
                {
                    fault.Record(i, e);
                }
            });
            fault.ThrowIfAny();
        }
    }
}

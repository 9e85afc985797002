using System;
using System.Buffers;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks;

namespace Kernels.CompilerServices;

/// <summary>
/// A chunk of a generated storage step (buffers held as float, bfloat16 or fp16): runs the fused loop over
/// <c>[start, start + length)</c> of every buffer. Implemented by generated code; not meant to be implemented by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IStorageChunkKernel
{
    /// <summary>Runs the step over one chunk of the pinned buffers (each read as its own element type).</summary>
    /// <param name="buffers">The buffers' addresses.</param>
    /// <param name="start">The chunk's first element in these buffers.</param>
    /// <param name="length">The chunk's element count.</param>
    /// <param name="position">
    /// The index of element <paramref name="start"/> within the whole step — its span, or the concatenation of its tensors:
    /// the element index of the stochastic rounding's random stream, so its bits do not depend on the chunking.
    /// </param>
    void Execute(in PinnedBuffers<byte> buffers, int start, int length, long position);
}

/// <summary>
/// Splits one generated storage step across threads, as <see cref="ParallelStep"/> and <see cref="MultiTensorStep"/> split a
/// float step (the same chunk boundaries), telling each chunk its position in the step. Used by generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class StorageStep
{
    /// <summary>
    /// Pins the buffers (as bytes: they may hold different element types) and runs <paramref name="kernel"/> over
    /// <paramref name="threads"/> contiguous chunks of <paramref name="length"/> elements, each (but the last) a multiple of
    /// <paramref name="blockSize"/>; a chunk's position is its start.
    /// </summary>
    public static unsafe void Run<TKernel>(
        TKernel kernel, int length, int threads, int blockSize,
        ReadOnlySpan<byte> b0, ReadOnlySpan<byte> b1 = default, ReadOnlySpan<byte> b2 = default, ReadOnlySpan<byte> b3 = default,
        ReadOnlySpan<byte> b4 = default, ReadOnlySpan<byte> b5 = default, ReadOnlySpan<byte> b6 = default, ReadOnlySpan<byte> b7 = default)
        where TKernel : struct, IStorageChunkKernel
    {
        fixed (byte* p0 = b0) fixed (byte* p1 = b1) fixed (byte* p2 = b2) fixed (byte* p3 = b3)
        fixed (byte* p4 = b4) fixed (byte* p5 = b5) fixed (byte* p6 = b6) fixed (byte* p7 = b7)
        {
            var buffers = new PinnedBuffers<byte>(p0, p1, p2, p3, p4, p5, p6, p7);
            if (threads <= 1)
            {
                kernel.Execute(buffers, 0, length, 0);
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
                    kernel.Execute(buffers, start, Math.Min(chunk, length - start), start);
                }
                catch (Exception e)
                {
                    fault.Record(i, e);
                }
            });
            fault.ThrowIfAny();
        }
    }

    /// <summary>
    /// Runs <paramref name="kernel"/> over <paramref name="threads"/> equal ranges of the concatenation of the pinned
    /// tensors (range starts rounded to <paramref name="blockSize"/>, as <see cref="MultiTensorStep"/> does); the position
    /// of a piece of tensor <c>k</c> is its offset in the concatenation.
    /// </summary>
    public static void Run<TKernel>(TKernel kernel, int threads, int blockSize, PinnedTensors tensors)
        where TKernel : struct, IStorageChunkKernel =>
        Run(kernel, threads, blockSize, tensors, default);

    /// <summary>
    /// As <see cref="Run{TKernel}(TKernel, int, int, PinnedTensors)"/>, but the position of a piece of tensor <c>k</c> is
    /// <c>positions[k]</c> plus its offset in the tensor (an optimizer's element index of the stochastic rounding: the
    /// tensor's offset among all its parameters); empty <paramref name="positions"/>: the offsets in the concatenation.
    /// The chunks are the same either way.
    /// </summary>
    public static void Run<TKernel>(TKernel kernel, int threads, int blockSize, PinnedTensors tensors, ReadOnlySpan<long> positions)
        where TKernel : struct, IStorageChunkKernel
    {
        long[] starts = tensors.Starts;
        long[] first = positions.IsEmpty ? starts : positions.ToArray();
        int count = starts.Length - 1;
        long total = starts[count];
        if (total == 0)
            return;
        long perThread = (total + threads - 1) / threads;
        long range = (perThread + blockSize - 1) / blockSize * blockSize;
        int ranges = (int)((total + range - 1) / range);
        var fault = new FirstFault();
        Parallel.For(0, ranges, new ParallelOptions { MaxDegreeOfParallelism = threads }, r =>
        {
            try
            {
                long from = r * range, to = Math.Min(total, from + range);
                // The first tensor that ends after `from`, then every tensor up to `to`.
                int k = Array.BinarySearch(starts, from);
                k = k >= 0 ? k : ~k - 1;
                for (; k < count && starts[k] < to; k++)
                {
                    long begin = Math.Max(from, starts[k]) - starts[k];
                    long end = Math.Min(to, starts[k + 1]) - starts[k];
                    if (end > begin)
                        kernel.Execute(tensors.Tensor(k), (int)begin, (int)(end - begin), first[k] + begin);
                }
            }
            catch (Exception e)
            {
                fault.Record(r, e);
            }
        });
        fault.ThrowIfAny();
    }

    /// <summary>A float view of a span whose element type is float (the storage overloads forward an all-float call to the float overload).</summary>
    /// <typeparam name="T">float.</typeparam>
    public static Span<float> AsSingles<T>(Span<T> span) where T : unmanaged =>
        typeof(T) == typeof(float) ? MemoryMarshal.CreateSpan(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(span)), span.Length) : throw NotFloat<T>();

    /// <summary>A float view of a read-only span whose element type is float.</summary>
    /// <typeparam name="T">float.</typeparam>
    public static ReadOnlySpan<float> AsSingles<T>(ReadOnlySpan<T> span) where T : unmanaged =>
        typeof(T) == typeof(float) ? MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(span)), span.Length) : throw NotFloat<T>();

    /// <summary>A float view of a list of tensors whose element type is float (<c>Memory&lt;T&gt;</c> has one layout for every T).</summary>
    /// <typeparam name="T">float.</typeparam>
    public static ReadOnlySpan<Memory<float>> AsSingleTensors<T>(ReadOnlySpan<Memory<T>> tensors) where T : unmanaged =>
        typeof(T) == typeof(float) ? MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<Memory<T>, Memory<float>>(ref MemoryMarshal.GetReference(tensors)), tensors.Length) : throw NotFloat<T>();

    /// <summary>A float view of a list of read-only tensors whose element type is float.</summary>
    /// <typeparam name="T">float.</typeparam>
    public static ReadOnlySpan<ReadOnlyMemory<float>> AsSingleTensors<T>(ReadOnlySpan<ReadOnlyMemory<T>> tensors) where T : unmanaged =>
        typeof(T) == typeof(float) ? MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<ReadOnlyMemory<T>, ReadOnlyMemory<float>>(ref MemoryMarshal.GetReference(tensors)), tensors.Length) : throw NotFloat<T>();

    private static InvalidCastException NotFloat<T>() => new($"{typeof(T)} is not float.");
}

/// <summary>
/// The tensors of a multi-tensor storage step, pinned: one list per per-element buffer, added in the rule's order (an empty
/// list: a buffer the configuration does not use). Disposing unpins them. Used by generated code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed unsafe class PinnedTensors : IDisposable
{
    private const int Slots = PinnedBuffers<byte>.MaxBuffers;
    private readonly int _count;
    private readonly MemoryHandle[] _handles;
    private readonly nint[] _addresses;
    private long[]? _starts;
    private int _buffers;

    /// <summary>Room for <paramref name="count"/> tensors per list.</summary>
    /// <param name="count">The number of tensors.</param>
    public PinnedTensors(int count)
    {
        _count = count;
        _handles = new MemoryHandle[count * Slots];
        _addresses = new nint[count * Slots];
    }

    /// <summary>Pins the next buffer's list (its tensors must number as many as this table's; checked by the caller).</summary>
    /// <typeparam name="T">The list's element type.</typeparam>
    /// <param name="list">One buffer per tensor, or empty for an unused buffer.</param>
    public void Add<T>(ReadOnlySpan<ReadOnlyMemory<T>> list) where T : unmanaged
    {
        int slot = _buffers++;
        if (slot >= Slots)
            throw new InvalidOperationException($"A step has at most {Slots} per-element buffers.");
        if (list.IsEmpty)
            return;
        for (int k = 0; k < _count; k++)
        {
            if (list[k].IsEmpty)
                continue;
            _handles[k * Slots + slot] = list[k].Pin();
            _addresses[k * Slots + slot] = (nint)_handles[k * Slots + slot].Pointer;
        }
        // The first list used gives the tensors' lengths (an unused list is empty).
        if (_starts is null)
        {
            _starts = new long[_count + 1];
            for (int k = 0; k < _count; k++)
                _starts[k + 1] = _starts[k] + list[k].Length;
        }
    }

    /// <summary>Where each tensor starts in the concatenation (and, last, its total length).</summary>
    internal long[] Starts => _starts ?? new long[_count + 1];

    /// <summary>The pinned buffers of tensor <paramref name="k"/>.</summary>
    internal PinnedBuffers<byte> Tensor(int k)
    {
        ReadOnlySpan<nint> a = _addresses.AsSpan(k * Slots, Slots);
        return new PinnedBuffers<byte>((byte*)a[0], (byte*)a[1], (byte*)a[2], (byte*)a[3], (byte*)a[4], (byte*)a[5], (byte*)a[6], (byte*)a[7]);
    }

    /// <summary>Unpins every tensor.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _handles.Length; i++)
            _handles[i].Dispose();
    }
}

using System;
using System.Buffers;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks;

namespace Kernels.CompilerServices;

/// <summary>
/// Runs one generated step over many tensors with one parallel dispatch: the tensors are treated as one
/// concatenation, split into one contiguous range per thread (a range may cross tensor boundaries or
/// split a large tensor), so a model of many small tensors keeps every core streaming.
/// Used by the generated multi-tensor overloads; not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class MultiTensorStep
{
    /// <summary>Views a list of writable buffers as read-only ones (the two types share one layout).</summary>
    public static ReadOnlySpan<ReadOnlyMemory<T>> AsReadOnly<T>(ReadOnlySpan<Memory<T>> buffers) =>
        MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<Memory<T>, ReadOnlyMemory<T>>(ref MemoryMarshal.GetReference(buffers)), buffers.Length);

    /// <summary>The total element count of a list of buffers.</summary>
    public static long TotalLength<T>(ReadOnlySpan<ReadOnlyMemory<T>> buffers)
    {
        long total = 0;
        foreach (ReadOnlyMemory<T> buffer in buffers)
            total += buffer.Length;
        return total;
    }

    /// <summary>
    /// Pins every tensor of every list (an empty list: a buffer this configuration does not use) and runs
    /// <paramref name="kernel"/> over <paramref name="threads"/> equal ranges of the concatenated tensors,
    /// range starts rounded to <paramref name="blockSize"/>.
    /// </summary>
    public static unsafe void Run<T, TKernel>(
        TKernel kernel, int threads, int blockSize,
        ReadOnlySpan<ReadOnlyMemory<T>> b0, ReadOnlySpan<ReadOnlyMemory<T>> b1 = default, ReadOnlySpan<ReadOnlyMemory<T>> b2 = default,
        ReadOnlySpan<ReadOnlyMemory<T>> b3 = default, ReadOnlySpan<ReadOnlyMemory<T>> b4 = default, ReadOnlySpan<ReadOnlyMemory<T>> b5 = default,
        ReadOnlySpan<ReadOnlyMemory<T>> b6 = default, ReadOnlySpan<ReadOnlyMemory<T>> b7 = default)
        where T : unmanaged
        where TKernel : struct, IChunkKernel<T>
    {
        // The lists of buffers a configuration does not use are empty: the first used list gives the tensors' lengths.
        ReadOnlySpan<ReadOnlyMemory<T>> reference = !b0.IsEmpty ? b0 : !b1.IsEmpty ? b1 : !b2.IsEmpty ? b2 : !b3.IsEmpty ? b3
            : !b4.IsEmpty ? b4 : !b5.IsEmpty ? b5 : !b6.IsEmpty ? b6 : b7;
        int count = reference.Length;
        var handles = new MemoryHandle[count * PinnedBuffers<T>.MaxBuffers];
        var tensors = new PinnedBuffers<T>[count];
        var starts = new long[count + 1];
        try
        {
            for (int k = 0; k < count; k++)
            {
                int h = k * PinnedBuffers<T>.MaxBuffers;
                tensors[k] = new PinnedBuffers<T>(
                    Pin(b0, k, ref handles[h]), Pin(b1, k, ref handles[h + 1]), Pin(b2, k, ref handles[h + 2]), Pin(b3, k, ref handles[h + 3]),
                    Pin(b4, k, ref handles[h + 4]), Pin(b5, k, ref handles[h + 5]), Pin(b6, k, ref handles[h + 6]), Pin(b7, k, ref handles[h + 7]));
                starts[k + 1] = starts[k] + reference[k].Length;
            }

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
                            kernel.Execute(tensors[k], (int)begin, (int)(end - begin));
                    }
                }
                catch (Exception e)
                {
                    fault.Record((int)r, e);
                }
            });
            fault.ThrowIfAny();
        }
        finally
        {
            foreach (MemoryHandle handle in handles)
                handle.Dispose();
        }
    }

    private static unsafe T* Pin<T>(ReadOnlySpan<ReadOnlyMemory<T>> list, int index, ref MemoryHandle handle) where T : unmanaged
    {
        if (list.IsEmpty || list[index].IsEmpty)
            return null;
        handle = list[index].Pin();
        return (T*)handle.Pointer;
    }
}

using System;
using System.Buffers;
using System.Collections.Generic;
using System.ComponentModel;
using System.Threading.Tasks;
using Kernels.Precision;
using Kernels.Training;

namespace Kernels.CompilerServices;

/// <summary>
/// A generated optimizer's step over a batch in which some state is 8-bit blockwise-quantized
/// (<see cref="StateStorage.Blockwise8Bit"/>): run by run of four blocks of 256 elements, the quantized buffers are
/// dequantized into scratch that stays in L1, the rule's own fused kernel runs on the run (parameters, gradients and
/// full-precision buffers in place, the scratch for the quantized ones), and the scratch is re-quantized block by block,
/// each block with its new absmax.
/// Every element is read and written once, as in the plain step.
/// </summary>
/// <remarks>
/// Blocks are independent, so the bits do not depend on the thread count: threads take whole chunks of
/// <see cref="ChunkBlocks"/> blocks. Tensors of the batch without quantized state run the kernel over their chunks
/// directly.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class BlockwiseStep
{
    /// <summary>Blocks per unit of work handed to a thread (16,384 elements).</summary>
    private const int ChunkBlocks = 64;

    private const int Block = BlockwiseQuantizer.BlockSize;

    /// <summary>
    /// Elements per call of the kernel: four blocks, so that the scratch of two quantized buffers (8 KB) stays in L1
    /// beside the streamed parameters and gradients, and the per-call cost is spread over 1,024 elements.
    /// </summary>
    private const int RunLength = 4 * Block;

    /// <summary>Where the kernel's buffer <c>i</c> comes from: the parameter, the gradient, or a state buffer.</summary>
    public const sbyte Param = -1, Grad = -2;

    /// <summary>Runs <paramref name="kernel"/> over every tensor of <paramref name="batch"/>.</summary>
    /// <param name="kernel">The prepared kernel (gradient scale included).</param>
    /// <param name="batch">The batch.</param>
    /// <param name="layout">For each of the kernel's buffers in the rule's order: <see cref="Param"/>, <see cref="Grad"/>, or the state buffer's index.</param>
    /// <param name="used">For each state buffer: whether this configuration of the rule touches it.</param>
    public static unsafe void Run<TKernel>(TKernel kernel, OptimizerBatch<float> batch, ReadOnlySpan<sbyte> layout, ReadOnlySpan<bool> used)
        where TKernel : struct, IChunkKernel<float>
    {
        if (layout.Length > PinnedBuffers<float>.MaxBuffers)
            throw new ArgumentOutOfRangeException(nameof(layout));
        sbyte[] map = layout.ToArray();

        // Resolve (and allocate on first use) every tensor's buffers before any thread starts.
        int count = batch.Count;
        var tensors = new Tensor[count];
        var chunks = new List<(int Tensor, int Start, int Length)>();
        for (int k = 0; k < count; k++)
        {
            var full = new Memory<float>[used.Length];
            var quantized = new QuantizedState?[used.Length];
            for (int b = 0; b < used.Length; b++)
            {
                if (!used[b])
                    continue;
                quantized[b] = batch.QuantizedBuffer(k, b);
                if (quantized[b] is null)
                    full[b] = batch.FullState(k, b);
            }
            tensors[k] = new Tensor(batch.Params[k], batch.Grads[k], full, quantized);
            int length = batch.Params[k].Length;
            for (int start = 0; start < length; start += ChunkBlocks * Block)
                chunks.Add((k, start, Math.Min(ChunkBlocks * Block, length - start)));
        }

        if (batch.Threads <= 1 || chunks.Count == 1)
        {
            foreach ((int tensor, int start, int length) in chunks)
                RunChunk(kernel, tensors[tensor], map, start, length);
            return;
        }
        var fault = new FirstFault();
        Parallel.For(0, chunks.Count, new ParallelOptions { MaxDegreeOfParallelism = batch.Threads }, i =>
        {
            try
            {
                (int tensor, int start, int length) = chunks[i];
                RunChunk(kernel, tensors[tensor], map, start, length);
            }
            catch (Exception e)
            {
                fault.Record(i, e);
            }
        });
        fault.ThrowIfAny();
    }

    private sealed record Tensor(Memory<float> Param, ReadOnlyMemory<float> Grad, Memory<float>[] Full, QuantizedState?[] Quantized);

    private static unsafe void RunChunk<TKernel>(TKernel kernel, Tensor tensor, sbyte[] map, int start, int length)
        where TKernel : struct, IChunkKernel<float>
    {
        int buffers = map.Length;
        using MemoryHandle param = tensor.Param.Pin();
        using MemoryHandle grad = tensor.Grad.Pin();
        var pins = new MemoryHandle[tensor.Full.Length];
        try
        {
            for (int b = 0; b < pins.Length; b++)
                pins[b] = tensor.Full[b].Pin();

            // The source of each kernel buffer at element `start`, and which need the scratch.
            float** at = stackalloc float*[PinnedBuffers<float>.MaxBuffers];
            int* scratchOf = stackalloc int[PinnedBuffers<float>.MaxBuffers];
            for (int i = 0; i < PinnedBuffers<float>.MaxBuffers; i++)
            {
                at[i] = null;
                scratchOf[i] = -1;
            }
            for (int i = 0; i < buffers; i++)
            {
                sbyte source = map[i];
                if (source == Param)
                    at[i] = (float*)param.Pointer;
                else if (source == Grad)
                    at[i] = (float*)grad.Pointer;
                else if (tensor.Quantized[source] is not null)
                    scratchOf[i] = source;
                else if (!tensor.Full[source].IsEmpty)
                    at[i] = (float*)pins[source].Pointer;
            }

            // The quantized buffers, each with its slice of the scratch: runs of RunBlocks blocks at a time, so the
            // kernel's per-call work (spans, dispatch) is paid once per run rather than once per block.
            int quantizedCount = 0;
            var quantized = new QuantizedState[buffers];
            int* quantizedBuffer = stackalloc int[PinnedBuffers<float>.MaxBuffers];
            for (int i = 0; i < buffers; i++)
            {
                if (scratchOf[i] >= 0)
                {
                    quantized[quantizedCount] = tensor.Quantized[scratchOf[i]]!;
                    quantizedBuffer[quantizedCount++] = i;
                }
            }
            float* scratch = stackalloc float[RunLength * Math.Max(quantizedCount, 1)];
            float** block = stackalloc float*[PinnedBuffers<float>.MaxBuffers];
            for (int q = 0; q < quantizedCount; q++)
                block[quantizedBuffer[q]] = scratch + q * RunLength;

            for (int offset = start; offset < start + length; offset += RunLength)
            {
                int n = Math.Min(RunLength, start + length - offset);
                for (int i = 0; i < PinnedBuffers<float>.MaxBuffers; i++)
                {
                    if (scratchOf[i] < 0)
                        block[i] = at[i] is null ? null : at[i] + offset;
                }
                for (int q = 0; q < quantizedCount; q++)
                {
                    QuantizedState state = quantized[q];
                    float* destination = scratch + q * RunLength;
                    for (int b = 0; b < n; b += Block)
                    {
                        state.Quantizer.DequantizeRun(ref state.Codes[offset + b], state.AbsMax[(offset + b) / Block],
                            ref destination[b], Math.Min(Block, n - b));
                    }
                }
                var pinned = new PinnedBuffers<float>(block[0], block[1], block[2], block[3], block[4], block[5], block[6], block[7]);
                kernel.Execute(pinned, 0, n);
                for (int q = 0; q < quantizedCount; q++)
                {
                    QuantizedState state = quantized[q];
                    float* source = scratch + q * RunLength;
                    for (int b = 0; b < n; b += Block)
                    {
                        int m = Math.Min(Block, n - b);
                        state.AbsMax[(offset + b) / Block] = state.Quantizer.QuantizeBlockUnchecked(
                            new ReadOnlySpan<float>(source + b, m), state.Codes.AsSpan(offset + b, m));
                    }
                }
            }
        }
        finally
        {
            foreach (MemoryHandle pin in pins)
                pin.Dispose();
        }
    }
}

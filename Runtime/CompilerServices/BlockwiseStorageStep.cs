using System;
using System.Buffers;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Threading.Tasks;
using Kernels.Precision;
using Kernels.Training;

namespace Kernels.CompilerServices;

/// <summary>
/// <see cref="BlockwiseStep"/> for a batch whose parameters (or gradients) are stored in 16 bits: block by block of 256
/// elements, the 8-bit state buffers are dequantized into float scratch, the rule's storage kernel runs on the block
/// (parameter and gradient widened and narrowed in place, full-precision state in place, the scratch for the 8-bit
/// buffers), and the scratch is re-quantized with the block's new absmax. With a compensation buffer per parameter,
/// the parameter is float scratch too: <c>p + c</c> widened in, <c>p = round(v)</c>, <c>c = round(v - p)</c> written
/// back. Used by generated optimizers.
/// </summary>
/// <remarks>
/// Blocks are independent and each knows its element index (its tensor's position plus its offset, the stochastic
/// rounding's index), so the bits do not depend on the thread count.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class BlockwiseStorageStep
{
    private const int ChunkBlocks = 64;
    private const int Block = BlockwiseQuantizer.BlockSize;
    private const int MaxBuffers = PinnedBuffers<byte>.MaxBuffers;

    /// <summary>Runs <paramref name="kernel"/> over every tensor of <paramref name="batch"/>.</summary>
    /// <typeparam name="TKernel">The rule's storage kernel, instantiated for (<typeparamref name="TParam"/>, <typeparamref name="TGrad"/>, float state).</typeparam>
    /// <typeparam name="TParam">How the buffer the kernel updates as the parameter is stored (a 16-bit type, or float for a master copy).</typeparam>
    /// <typeparam name="TGrad">How the gradients are stored.</typeparam>
    /// <param name="kernel">The storage kernel (prepared float kernel, gradient scale and rounding included).</param>
    /// <param name="batch">The batch (state buffers, 8-bit or full, and each tensor's position).</param>
    /// <param name="parameters">Each tensor's parameter buffer (its values, or its fp32 master copy).</param>
    /// <param name="grads">Each tensor's gradient.</param>
    /// <param name="layout">For each of the kernel's buffers in the rule's order: <see cref="BlockwiseStep.Param"/>, <see cref="BlockwiseStep.Grad"/>, or the state buffer's index.</param>
    /// <param name="used">For each state buffer: whether this configuration of the rule touches it.</param>
    /// <param name="compensation">
    /// Empty; or each tensor's compensation buffer, of <typeparamref name="TParam"/> (16-bit) like <paramref name="parameters"/>:
    /// then <paramref name="kernel"/> is instantiated for a float parameter and runs on <c>p + c</c> in float scratch.
    /// </param>
    public static void Run<TKernel, TParam, TGrad>(TKernel kernel, OptimizerBatch<float> batch, ReadOnlySpan<Memory<TParam>> parameters, ReadOnlySpan<ReadOnlyMemory<TGrad>> grads, ReadOnlySpan<sbyte> layout, ReadOnlySpan<bool> used,
        ReadOnlySpan<Memory<TParam>> compensation = default)
        where TKernel : struct, IStorageChunkKernel
        where TParam : unmanaged
        where TGrad : unmanaged
    {
        if (layout.Length > MaxBuffers)
            throw new ArgumentOutOfRangeException(nameof(layout));
        sbyte[] map = layout.ToArray();
        int count = batch.Count;
        var tensors = new Tensor<TParam, TGrad>[count];
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
            tensors[k] = new Tensor<TParam, TGrad>(parameters[k], compensation.IsEmpty ? default : compensation[k], !compensation.IsEmpty, grads[k], full, quantized, batch.Positions[k]);
            int length = parameters[k].Length;
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

    private sealed record Tensor<TParam, TGrad>(Memory<TParam> Param, Memory<TParam> Compensation, bool Compensated, ReadOnlyMemory<TGrad> Grad, Memory<float>[] Full, QuantizedState?[] Quantized, long Position)
        where TParam : unmanaged
        where TGrad : unmanaged;

    private static unsafe void RunChunk<TKernel, TParam, TGrad>(TKernel kernel, Tensor<TParam, TGrad> tensor, sbyte[] map, int start, int length)
        where TKernel : struct, IStorageChunkKernel
        where TParam : unmanaged
        where TGrad : unmanaged
    {
        using MemoryHandle param = tensor.Param.Pin();
        using MemoryHandle compensation = tensor.Compensation.Pin();
        using MemoryHandle grad = tensor.Grad.Pin();
        var pins = new MemoryHandle[tensor.Full.Length];
        try
        {
            for (int b = 0; b < pins.Length; b++)
                pins[b] = tensor.Full[b].Pin();

            // Each kernel buffer's first element and element size, or the 8-bit buffer it is dequantized from.
            byte** at = stackalloc byte*[MaxBuffers];
            int* size = stackalloc int[MaxBuffers];
            int* scratchOf = stackalloc int[MaxBuffers];
            float* scratch = stackalloc float[Block * MaxBuffers];
            float* pair = stackalloc float[Block];   // p + c of a compensated parameter
            int paramSlot = -1;
            for (int i = 0; i < MaxBuffers; i++)
            {
                at[i] = null;
                size[i] = sizeof(float);
                scratchOf[i] = -1;
            }
            for (int i = 0; i < map.Length; i++)
            {
                sbyte source = map[i];
                if (source == BlockwiseStep.Param)
                {
                    at[i] = (byte*)param.Pointer;
                    size[i] = sizeof(TParam);
                    paramSlot = i;
                }
                else if (source == BlockwiseStep.Grad)
                {
                    at[i] = (byte*)grad.Pointer;
                    size[i] = sizeof(TGrad);
                }
                else if (tensor.Quantized[source] is not null)
                    scratchOf[i] = source;
                else if (!tensor.Full[source].IsEmpty)
                    at[i] = (byte*)pins[source].Pointer;
            }

            byte** block = stackalloc byte*[MaxBuffers];
            for (int offset = start; offset < start + length; offset += Block)
            {
                int n = Math.Min(Block, start + length - offset);
                int b = offset / Block;
                for (int i = 0; i < MaxBuffers; i++)
                {
                    if (scratchOf[i] >= 0)
                    {
                        QuantizedState q = tensor.Quantized[scratchOf[i]]!;
                        float* values = scratch + i * Block;
                        q.Quantizer.DequantizeRun(ref q.Codes[offset], q.AbsMax[b], ref *values, n);
                        block[i] = (byte*)values;
                    }
                    else
                    {
                        block[i] = at[i] is null ? null : at[i] + (long)offset * size[i];
                    }
                }
                if (tensor.Compensated && paramSlot >= 0)
                {
                    CompensatedStorage.Widen(ref Unsafe.AsRef<TParam>(block[paramSlot]), ref Unsafe.AsRef<TParam>((TParam*)compensation.Pointer + offset), pair, n);
                    block[paramSlot] = (byte*)pair;
                }
                var pinned = new PinnedBuffers<byte>(block[0], block[1], block[2], block[3], block[4], block[5], block[6], block[7]);
                kernel.Execute(pinned, 0, n, tensor.Position + offset);
                if (tensor.Compensated && paramSlot >= 0)
                    CompensatedStorage.Split(pair, ref Unsafe.AsRef<TParam>((TParam*)param.Pointer + offset), ref Unsafe.AsRef<TParam>((TParam*)compensation.Pointer + offset), n);
                for (int i = 0; i < map.Length; i++)
                {
                    if (scratchOf[i] < 0)
                        continue;
                    QuantizedState q = tensor.Quantized[scratchOf[i]]!;
                    q.AbsMax[b] = q.Quantizer.QuantizeBlockUnchecked(new ReadOnlySpan<float>(block[i], n), q.Codes.AsSpan(offset, n));
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

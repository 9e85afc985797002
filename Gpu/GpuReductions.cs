using System;
using System.ComponentModel;
using ILGPU;
using ILGPU.Runtime;

namespace Kernels.Gpu;

/// <summary>
/// The device side of a rule's <see cref="Reduce"/> calls, in the order documented on <see cref="Reduce"/> (the CPU's):
/// the generated reduction kernel leaves, for each reduction, block and accumulator, the accumulator's value (one
/// thread per accumulator adds the block's elements <c>j ≡ lane (mod 64)</c> in increasing <c>j</c>, as the CPU does);
/// here each block's 64 accumulators go through the fixed tree (one thread per block), then the block totals are
/// added in block order (one thread per reduction). The same bits as the CPU for any thread count.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GpuReductions
{
    /// <summary>Elements per block (the CPU's <c>GradientClipping.BlockLength</c>).</summary>
    public const int BlockLength = 16_384;

    /// <summary>Accumulators per block.</summary>
    public const int Accumulators = 64;

    private static readonly GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>, int, int>> s_blocks =
        new(typeof(GpuReductions).GetMethod(nameof(BlockKernel))!);

    private static readonly GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>, int, int>> s_final =
        new(typeof(GpuReductions).GetMethod(nameof(FinalKernel))!);

    /// <summary>The number of blocks of a tensor of <paramref name="length"/> elements.</summary>
    public static int Blocks(long length) => (int)((length + BlockLength - 1) / BlockLength);

    /// <summary>
    /// Combines <paramref name="partials"/> (reduction-major, then block, then accumulator) into one value per reduction,
    /// written to <paramref name="results"/>; <paramref name="blockTotals"/> is scratch of <c>count × blocks</c>.
    /// Bit <c>r</c> of <paramref name="maxMask"/> set: reduction <c>r</c> is a maximum.
    /// </summary>
    public static void Combine(AcceleratorStream stream, ArrayView<double> partials, ArrayView<double> blockTotals, ArrayView<double> results, int count, int blocks, int maxMask)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (blocks > 0)
            s_blocks.For(stream.Accelerator)(stream, count * blocks, partials, blockTotals, blocks, maxMask);
        s_final.For(stream.Accelerator)(stream, count, blockTotals, results, blocks, maxMask);
    }

    /// <summary>One thread per (reduction, block): the fixed tree over the block's 64 accumulators (in place), or their maximum.</summary>
    public static void BlockKernel(Index1D index, ArrayView<double> partials, ArrayView<double> blockTotals, int blocks, int maxMask)
    {
        int reduction = index / blocks;
        long at = (long)(int)index * Accumulators;
        if ((maxMask & (1 << reduction)) != 0)
        {
            double max = double.NegativeInfinity;
            for (int a = 0; a < Accumulators; a++)
                max = GpuMath.Max(max, partials[at + a]);
            blockTotals[index] = max;
            return;
        }
        for (int width = Accumulators / 2; width >= 1; width /= 2)
        {
            for (int a = 0; a < width; a++)
                partials[at + a] += partials[at + a + width];
        }
        blockTotals[index] = partials[at];
    }

    /// <summary>One thread per reduction: the block totals in block order.</summary>
    public static void FinalKernel(Index1D reduction, ArrayView<double> blockTotals, ArrayView<double> results, int blocks, int maxMask)
    {
        bool max = (maxMask & (1 << reduction)) != 0;
        double total = max ? double.NegativeInfinity : 0;
        for (int b = 0; b < blocks; b++)
        {
            double partial = blockTotals[(long)(int)reduction * blocks + b];
            total = max ? GpuMath.Max(total, partial) : total + partial;
        }
        results[reduction] = total;
    }
}

using System;
using System.Buffers;
using System.Collections.Generic;
using System.Threading.Tasks;
using Kernels.Precision;

namespace Kernels.Training;

/// <summary>
/// The global norm of gradients of which some are stored in 16 bits (<see cref="BFloat16"/>, <see cref="Half"/>): each
/// 16-bit tensor is widened to float a block at a time (exactly: every 16-bit value is a float) and reduced by
/// <see cref="GradientClipping.GlobalNorm(ReadOnlySpan{ReadOnlyMemory{float}}, double, StepOptions)"/>; the float tensors are
/// reduced together; the parts combine as the norm says (sum of squares, sum, maximum), in double.
/// </summary>
/// <remarks>
/// The result is the norm of the widened gradients to within double rounding (a relative error near 1e-16), not bit for
/// bit the norm of float copies reduced in one call: the parts are summed in another order. It does not depend on the
/// thread count: blocks are fixed and combined in order.
/// </remarks>
internal static class LowPrecisionNorm
{
    private const int Block = GradientClipping.BlockLength;

    public static double Of(IReadOnlyList<Parameter> parameters, double normType, StepOptions options)
    {
        var floats = new List<ReadOnlyMemory<float>>();
        var blocks = new List<(Parameter P, int Start, int Length)>();
        foreach (Parameter p in parameters)
        {
            if (p is Parameter<float> f)
            {
                floats.Add(f.Grad);
                continue;
            }
            for (int start = 0; start < p.Length; start += Block)
                blocks.Add((p, start, Math.Min(Block, p.Length - start)));
        }
        var parts = new double[blocks.Count + 1];
        parts[^1] = GradientClipping.GlobalNorm(floats.ToArray(), normType, options);
        int threads = options.ThreadCountFor((int)Math.Min(int.MaxValue, (long)blocks.Count * Block), Block);
        Parallel.For(0, blocks.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, i =>
        {
            (Parameter p, int start, int length) = blocks[i];
            float[] scratch = ArrayPool<float>.Shared.Rent(length);
            try
            {
                Span<float> widened = scratch.AsSpan(0, length);
                if (p is Parameter<BFloat16> b)
                    BFloat16Conversions.ToSingle(b.Grad.Span.Slice(start, length), widened);
                else if (p is Parameter<Half> h)
                    HalfConversions.ToSingle(h.Grad.Span.Slice(start, length), widened);
                else
                    throw new NotSupportedException($"Gradients of {p.ElementType.Name}.");
                parts[i] = GradientClipping.GlobalNorm(new ReadOnlyMemory<float>[] { scratch.AsMemory(0, length) }, normType, StepOptions.SingleThreaded);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        });
        double total = 0;
        foreach (double part in parts)
        {
            total = normType switch
            {
                1 => total + part,
                2 => total + part * part,
                _ => Math.Max(total, part),   // NaN wins, as in the float reduction
            };
        }
        return normType == 2 ? Math.Sqrt(total) : total;
    }
}

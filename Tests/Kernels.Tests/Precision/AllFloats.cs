using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Kernels.Tests.Precision;

/// <summary>
/// Sweeps float bit patterns in parallel chunks. With <c>KERNELS_PRECISION_EXHAUSTIVE=1</c>: all 2^32 of them.
/// Otherwise (CI, and the default): every 1021st pattern (4.2 million, every exponent and both signs) plus, for each
/// of <see cref="BoundaryHighHalves"/>, all 65,536 low halves under it — every rounding decision of a 16-bit
/// truncation (ties, carries into the exponent, overflow to infinity, subnormals, NaN payloads): about 8 million
/// patterns in all. The 2^32 sweep takes minutes on two cores; its results are recorded in docs/Precision.md.
/// </summary>
internal static class AllFloats
{
    /// <summary>The stride of the sampled sweep: prime, so every low-bit pattern and every exponent is visited.</summary>
    public const int SampleStride = 1021;

    private const int Chunks = 4096;
    private const long ChunkSize = (1L << 32) / Chunks;   // 2^20 patterns

    /// <summary>Whether this run covers every bit pattern.</summary>
    public static bool Exhaustive { get; } = Environment.GetEnvironmentVariable("KERNELS_PRECISION_EXHAUSTIVE") == "1";

    /// <summary>
    /// High 16 bits (sign, exponent, top 7 fraction bits) under which the sampled sweep visits every low half: zero and
    /// the subnormal/normal border, around 1, the top binade and the overflow border, infinity and NaN payloads, with
    /// both signs, and the patterns just before an exponent carry.
    /// </summary>
    public static IReadOnlyList<ushort> BoundaryHighHalves { get; } = BuildBoundaryHighHalves();

    private static ushort[] BuildBoundaryHighHalves()
    {
        var halves = new SortedSet<ushort>();
        foreach (ushort h in new ushort[]
        {
            0x0000, 0x0001, 0x0002, 0x007E, 0x007F, 0x0080, 0x0081, 0x00FF, 0x0100,
            0x3F7F, 0x3F80, 0x3F81, 0x3FFF, 0x4000, 0x477F, 0x4780,   // 1, 2, Half's overflow border (65520)
            0x387F, 0x3880, 0x3380, 0x337F, 0x3300,                   // Half's normal/subnormal borders
            0x7F00, 0x7F7E, 0x7F7F, 0x7F80, 0x7F81, 0x7FBF, 0x7FC0, 0x7FFF,
        })
        {
            halves.Add(h);
            halves.Add((ushort)(h | 0x8000));
        }
        return [.. halves];
    }

    /// <summary>A per-thread scratch array of at least <paramref name="length"/> elements (contents undefined), for sweep callbacks.</summary>
    public static T[] Scratch<T>(int slot, int length) => ScratchStore<T>.Get(slot, length);

    private static class ScratchStore<T>
    {
        [ThreadStatic] private static T[]?[]? t_arrays;

        public static T[] Get(int slot, int length)
        {
            t_arrays ??= new T[]?[8];
            T[]? array = t_arrays[slot];
            if (array is null || array.Length < length)
                t_arrays[slot] = array = new T[Math.Max(length, (int)ChunkSize)];
            return array;
        }
    }

    /// <summary>The number of patterns a sweep visits.</summary>
    public static long PatternCount => Exhaustive ? 1L << 32 : (((1L << 32) + SampleStride - 1) / SampleStride) + BoundaryHighHalves.Count * 65536L;

    /// <summary>
    /// Calls <paramref name="check"/> once per chunk of patterns, in parallel; returns the total of its results (for
    /// example a mismatch count) and the number of patterns visited.
    /// </summary>
    /// <param name="check">Gets a buffer with one chunk's patterns and their count, and returns a count to add up.</param>
    public static (long Total, long Visited) Sweep(Func<uint[], int, long> check)
    {
        var ranges = new List<(long Start, long End, int Stride)>();
        if (Exhaustive)
        {
            for (long chunk = 0; chunk < Chunks; chunk++)
                ranges.Add((chunk * ChunkSize, (chunk + 1) * ChunkSize, 1));
        }
        else
        {
            // Strided chunks hold about 2^20 / stride patterns each; group 64 of them per call.
            const long Group = ChunkSize * 64;
            for (long start = 0; start < 1L << 32; start += Group)
                ranges.Add((start, start + Group, SampleStride));
            foreach (ushort h in BoundaryHighHalves)
                ranges.Add(((long)h << 16, ((long)h + 1) << 16, 1));
        }
        long total = 0, visited = 0;
        Parallel.ForEach(ranges, () => new uint[ChunkSize], (range, _, buffer) =>
        {
            long start = (range.Start + range.Stride - 1) / range.Stride * range.Stride;
            int count = 0;
            for (long bits = start; bits < range.End; bits += range.Stride)
                buffer[count++] = (uint)bits;
            Interlocked.Add(ref total, check(buffer, count));
            Interlocked.Add(ref visited, count);
            return buffer;
        }, _ => { });
        return (total, visited);
    }
}

using System;
using System.Threading.Tasks;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>
/// The all-cores split the hand-written columns use: <c>threads</c> contiguous chunks, each but the last a multiple of
/// 1024 elements (so every chunk starts 64-byte aligned), one per thread, on the .NET thread pool — the same static
/// partitioning the generated overload's <c>Kernels.ParallelStep</c> does, so the comparison is loop against loop.
/// </summary>
public static class Chunks
{
    /// <summary>Chunks are multiples of this many elements.</summary>
    public const int Alignment = 1024;

    /// <summary>Threads a step over <paramref name="length"/> elements uses: the generated overload's own rule (<see cref="StepOptions.ThreadCountFor"/>).</summary>
    public static int ThreadsFor(int length, Cores cores)
        => (cores == Cores.All ? default : StepOptions.SingleThreaded).ThreadCountFor(length, Alignment);

    /// <summary>The options the generated overload gets for <paramref name="cores"/>: the library default (all cores above its threshold), or the calling thread only.</summary>
    public static StepOptions OptionsFor(Cores cores) => cores == Cores.All ? default : StepOptions.SingleThreaded;

    /// <summary>Runs <paramref name="body"/>(start, length) over <paramref name="threads"/> chunks of [0, <paramref name="length"/>).</summary>
    public static void Run(int length, int threads, Action<int, int> body)
    {
        if (threads <= 1)
        {
            body(0, length);
            return;
        }
        int perThread = (length + threads - 1) / threads;
        int chunk = (perThread + Alignment - 1) / Alignment * Alignment;
        int chunks = (length + chunk - 1) / chunk;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            int start = i * chunk;
            body(start, Math.Min(chunk, length - start));
        });
    }
}

/// <summary>Single-threaded, or every core of the machine.</summary>
public enum Cores
{
    /// <summary>The calling thread only (TorchSharp: <c>torch.set_num_threads(1)</c>).</summary>
    One,

    /// <summary>Every core (<see cref="Environment.ProcessorCount"/>; TorchSharp: <c>torch.set_num_threads(ProcessorCount)</c>).</summary>
    All,
}

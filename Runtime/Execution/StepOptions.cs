using System;
using Kernels.Precision;

namespace Kernels;

/// <summary>
/// How a generated overload runs one step: how it may spread the step over the machine's cores, and (for the storage
/// overloads, whose buffers may be held as bfloat16 or fp16) how it rounds the parameters it stores.
/// </summary>
public readonly record struct StepOptions
{
    /// <summary>Spans shorter than this run on the calling thread only (the default keeps small, cache-resident tensors single-threaded).</summary>
    public const int DefaultParallelThreshold = 1 << 18;

    private readonly int _maxDegreeOfParallelism;
    private readonly int _parallelThreshold;

    /// <summary>Creates options.</summary>
    /// <param name="maxDegreeOfParallelism">Maximum number of threads; 1 = the calling thread only; 0 or -1 = every core.</param>
    /// <param name="parallelThreshold">Minimum span length at which the step is split across threads; 0 = <see cref="DefaultParallelThreshold"/>.</param>
    public StepOptions(int maxDegreeOfParallelism = 0, int parallelThreshold = 0)
    {
        if (maxDegreeOfParallelism < -1)
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "Must be -1 or 0 (all cores), or a positive thread count.");
        if (parallelThreshold < 0)
            throw new ArgumentOutOfRangeException(nameof(parallelThreshold), parallelThreshold, "Must be 0 (the default) or a positive element count.");
        _maxDegreeOfParallelism = maxDegreeOfParallelism;
        _parallelThreshold = parallelThreshold;
    }

    /// <summary>Options that keep the step on the calling thread.</summary>
    public static StepOptions SingleThreaded => new(maxDegreeOfParallelism: 1);

    /// <summary>Maximum number of threads (0 or -1: every core).</summary>
    public int MaxDegreeOfParallelism => _maxDegreeOfParallelism;

    /// <summary>Minimum span length at which the step is split across threads.</summary>
    public int ParallelThreshold => _parallelThreshold == 0 ? DefaultParallelThreshold : _parallelThreshold;

    /// <summary>
    /// How a storage overload rounds a parameter buffer held as <see cref="BFloat16"/>: <c>default</c> to nearest (ties to
    /// even), or stochastically keyed by seed, step and element index (see <see cref="StochasticRounding"/>), so the bits do
    /// not depend on the thread count. Float parameters are never rounded; the float overloads ignore it.
    /// </summary>
    /// <example><c>AdamW.Step(param, grad, m, v, default, step: t, options: new() { Rounding = new StochasticRounding(seed, (ulong)t) })</c></example>
    public StochasticRounding Rounding { get; init; }

    /// <summary>The number of threads a step over <paramref name="length"/> elements will use.</summary>
    public int ThreadCountFor(int length, int blockSize)
    {
        if (length < ParallelThreshold)
            return 1;
        // An explicit count is honoured even above the core count (useful to test chunking); the default is every core.
        int threads = _maxDegreeOfParallelism <= 0 ? Environment.ProcessorCount : _maxDegreeOfParallelism;
        // Never hand a thread less than one vector block.
        int blocks = (length + blockSize - 1) / blockSize;
        return Math.Max(1, Math.Min(threads, blocks));
    }
}

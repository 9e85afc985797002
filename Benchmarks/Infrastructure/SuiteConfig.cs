using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Order;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>How much measuring a run does.</summary>
public enum RunMode
{
    /// <summary>The full run: 2 warm-up and 8 measured iterations of at least 250 ms each (whole suite: under 40 minutes on 2 busy cores).</summary>
    Full,

    /// <summary>A quick look: 1 warm-up and 3 measured iterations of at least 100 ms.</summary>
    Quick,

    /// <summary>BenchmarkDotNet's Dry job: every case set up, invoked once and torn down; proves the suite starts (CI).</summary>
    Dry,
}

/// <summary>The suite's BenchmarkDotNet configuration.</summary>
public static class SuiteConfig
{
    /// <summary>
    /// In-process (the TorchSharp native library is patched in this project's output directory, and a 64M case's
    /// buffers are freed by its own cleanup), one launch, a fixed number of iterations with no unrolling — a single
    /// 64M step takes up to seconds, so the count of invocations per iteration is chosen by the pilot from 1 upwards.
    /// </summary>
    public static IConfig Create(RunMode mode)
    {
        Job job = mode switch
        {
            RunMode.Dry => Job.Dry,
            RunMode.Quick => Job.Default.WithWarmupCount(1).WithIterationCount(3).WithIterationTime(TimeInterval.FromMilliseconds(100)),
            _ => Job.Default.WithWarmupCount(2).WithIterationCount(8).WithIterationTime(TimeInterval.FromMilliseconds(250)),
        };
        job = job.WithLaunchCount(1).WithUnrollFactor(1).WithToolchain(InProcessEmitToolchain.Instance).WithId(mode.ToString());

        return ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(job)
            .AddColumn(new ThreadsColumn(), new EffectiveBandwidthColumn(), new RooflineFractionColumn())
            .HideColumns(Column.Job, Column.Toolchain, Column.LaunchCount, Column.WarmupCount, Column.IterationCount,
                Column.IterationTime, Column.UnrollFactor, Column.InvocationCount, Column.RatioSD, Column.Error)
            // The naive per-element loop is a single-threaded reference point: skipped in the all-cores rows.
            // Parallelising over tensors is the same as the plain loop on one thread: skipped in the single-thread rows.
            .AddFilter(new SimpleFilter(c => !(c.Descriptor.WorkloadMethod.Name == nameof(OptimizerBenchmark.NaiveScalar)
                                               && CaseFacts.CoresOf(c) == Cores.All)
                                          && !(c.Descriptor.WorkloadMethod.Name == nameof(MultiTensorBenchmark.MultiTensorParallelOverTensors)
                                               && CaseFacts.CoresOf(c) == Cores.One)))
            .WithOrderer(new DefaultOrderer(SummaryOrderPolicy.Declared, MethodOrderPolicy.Declared));
    }
}

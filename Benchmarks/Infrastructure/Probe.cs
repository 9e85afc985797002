using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using Kernels.Benchmarks.Optimizers;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>
/// <c>--probe</c>: a cross-check of BenchmarkDotNet's numbers that is robust to a noisy, shared machine. The columns
/// of one optimizer run interleaved (roofline, generated, hand-written, TensorPrimitives, roofline, …) for a number of
/// rounds, so a burst of load from another process hits every column alike; it prints the minimum and the median per
/// column. For a memory-bound loop the minimum is the best estimate of what the code can do.
/// </summary>
public static class Probe
{
    /// <summary>Runs the probe for the optimizers whose class name contains <paramref name="filter"/> (all when null).</summary>
    public static int Run(string? filter, int rounds)
    {
        if (filter is not null && filter.Contains("multi", StringComparison.OrdinalIgnoreCase))
            return RunMultiTensor(rounds);
        if (filter is not null && filter.Contains("newton", StringComparison.OrdinalIgnoreCase))
            return RunNewtonSchulz(rounds);
        if (filter is not null && filter.Contains("loopshape", StringComparison.OrdinalIgnoreCase))
            return RunLoopShape(rounds);
        OptimizerBenchmark[] suites = [new AdamWBenchmark(), new SgdMomentumBenchmark(), new LionBenchmark(), new AdagradBenchmark(), new RMSpropBenchmark()];
        foreach (var suite in suites.Where(s => filter is null || s.GetType().Name.Contains(filter, StringComparison.OrdinalIgnoreCase)))
        {
            double bytesPerElement = suite.GetType().GetCustomAttribute<StreamedBytesAttribute>()!.BytesPerElement;
            foreach (int size in BenchSettings.Sizes)
            {
                foreach (Cores cores in new[] { Cores.One, Cores.All })
                {
                    suite.Size = size;
                    suite.Cores = cores;
                    suite.SetupTensorPrimitives();
                    try
                    {
                        var columns = new (string Name, Action Run)[]
                        {
                            ("RooflineTwin", suite.RooflineTwin), ("Generated", suite.Generated),
                            ("HandFused", suite.HandFused), ("TensorPrimitives", suite.TensorPrimitives),
                        };
                        // Repeat each call so one sample lasts at least ~2 ms (64K steps are microseconds).
                        int repeat = Math.Max(1, (int)(2_000_000.0 / (size * (double)bytesPerElement / 20.0)));
                        var samples = columns.ToDictionary(c => c.Name, _ => new List<double>());
                        // Warm-up: until every column has been called 200 times and for at least 1.5 s, so tiered JIT has
                        // promoted each loop to its optimised (tier-1) code before anything is recorded.
                        long warmStart = Stopwatch.GetTimestamp();
                        int warmRounds = Math.Max(3, (200 + repeat - 1) / repeat);
                        for (int round = 0; round < warmRounds || Stopwatch.GetElapsedTime(warmStart).TotalSeconds < 1.5; round++)
                        {
                            foreach (var (_, run) in columns)
                            {
                                for (int r = 0; r < repeat; r++)
                                    run();
                            }
                        }
                        var random = new Random(1);
                        for (int round = 0; round < rounds; round++)
                        {
                            foreach (var (name, run) in Order(columns, random))
                            {
                                long start = Stopwatch.GetTimestamp();
                                for (int r = 0; r < repeat; r++)
                                    run();
                                double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / repeat;
                                samples[name].Add(ns);
                            }
                        }
                        double rooflineMin = samples["RooflineTwin"].Min();
                        double rooflineMedian = Median(samples["RooflineTwin"]);
                        Console.WriteLine($"{suite.GetType().Name} {BenchSettings.FormatSize(size)} {cores} ({rounds} interleaved rounds, {OrderText}, x{repeat} per sample)");
                        foreach (var (name, list) in samples)
                        {
                            double min = list.Min(), median = Median(list);
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"  {name,-17} min {min / 1e6,9:F4} ms  {size * (double)bytesPerElement / min,6:F1} GB/s  of roofline {rooflineMin / min:F2} | median {median / 1e6,9:F4} ms  of roofline {rooflineMedian / median:F2}"));
                        }
                    }
                    finally
                    {
                        suite.Cleanup();
                    }
                }
            }
        }
        return 0;
    }

    /// <summary>The multi-tensor suite's generated rows, interleaved: flat, 1000-tensor loop, parallel over tensors.</summary>
    private static int RunMultiTensor(int rounds)
    {
        foreach (Cores cores in new[] { Cores.One, Cores.All })
        {
            var flat = new MultiTensorBenchmark { Cores = cores };
            var multi = new MultiTensorBenchmark { Cores = cores };
            flat.SetupFlat();
            multi.SetupTensors();
            try
            {
                var columns = new List<(string Name, Action Run)>
                {
                    ("FlatGenerated", flat.FlatGenerated), ("MultiTensorGenerated", multi.MultiTensorGenerated), ("MultiTensorOverload", multi.MultiTensorOverload),
                };
                if (cores == Cores.All)
                    columns.Add(("MultiTensorParallelOverTensors", multi.MultiTensorParallelOverTensors));
                var samples = columns.ToDictionary(c => c.Name, _ => new List<double>());
                long warmStart = Stopwatch.GetTimestamp();
                for (int round = 0; round < 10 || Stopwatch.GetElapsedTime(warmStart).TotalSeconds < 1.5; round++)
                {
                    foreach (var (_, run) in columns)
                        run();
                }
                for (int round = 0; round < rounds; round++)
                {
                    foreach (var (name, run) in columns)
                    {
                        long start = Stopwatch.GetTimestamp();
                        run();
                        samples[name].Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds);
                    }
                }
                double flatMin = samples["FlatGenerated"].Min(), flatMedian = Median(samples["FlatGenerated"]);
                Console.WriteLine($"MultiTensorBenchmark {cores} ({rounds} interleaved rounds)");
                foreach (var (name, list) in samples)
                {
                    double min = list.Min(), median = Median(list);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {name,-31} min {min / 1e6,9:F3} ms  {MultiTensorBenchmark.TotalElements * 28.0 / min,6:F1} GB/s  of flat {flatMin / min:F2} | median {median / 1e6,9:F3} ms  of flat {flatMedian / median:F2}"));
                }
            }
            finally
            {
                flat.Cleanup();
                multi.Cleanup();
            }
        }
        return 0;
    }

    /// <summary>
    /// The Newton–Schulz rows, TorchSharp's included, interleaved per shape and thread mode; besides min and median, the
    /// process's CPU time over wall time per row (median): about the number of threads kept busy.
    /// </summary>
    private static int RunNewtonSchulz(int rounds)
    {
        foreach (string shape in NewtonSchulzBenchmark.Shapes)
        {
            foreach (Cores cores in new[] { Cores.One, Cores.All })
            {
                var suite = new NewtonSchulzBenchmark { Shape = shape, Cores = cores };
                suite.Setup();   // also the check against TorchSharp, printed once per shape and thread mode
                try
                {
                    var columns = new List<(string Name, Action Run)>();
                    if (Kernels.Matrices.Gemm.IsOpenBlasAvailable)
                        columns.Add((nameof(NewtonSchulzBenchmark.KernelsOpenBlas), suite.KernelsOpenBlas));
                    columns.Add((nameof(NewtonSchulzBenchmark.KernelsManaged), suite.KernelsManaged));
                    columns.Add((nameof(NewtonSchulzBenchmark.TorchSharpNewtonSchulz), suite.TorchSharpNewtonSchulz));
                    columns.Add((nameof(NewtonSchulzBenchmark.TorchSharpNewtonSchulzAddmm), suite.TorchSharpNewtonSchulzAddmm));
                    var samples = columns.ToDictionary(c => c.Name, _ => new List<double>());
                    var cpuShares = columns.ToDictionary(c => c.Name, _ => new List<double>());
                    using var process = Process.GetCurrentProcess();
                    for (int round = -2; round < rounds; round++)   // two warm-up rounds
                    {
                        foreach (var (name, run) in columns)
                        {
                            process.Refresh();
                            TimeSpan cpu = process.TotalProcessorTime;
                            long start = Stopwatch.GetTimestamp();
                            run();
                            double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds;
                            process.Refresh();
                            if (round < 0)
                                continue;
                            samples[name].Add(ns);
                            cpuShares[name].Add((process.TotalProcessorTime - cpu).TotalNanoseconds / ns);
                        }
                    }
                    string torch = nameof(NewtonSchulzBenchmark.TorchSharpNewtonSchulz);
                    double torchMin = samples[torch].Min(), torchMedian = Median(samples[torch]);
                    double flops = NewtonSchulzBenchmark.Flops(shape);
                    Console.WriteLine($"NewtonSchulzBenchmark {shape} {cores}, {NewtonSchulzBenchmark.ThreadsFor(cores)} thread(s) ({rounds} interleaved rounds; load average {File.ReadAllText("/proc/loadavg").Trim()})");
                    foreach (var (name, list) in samples)
                    {
                        double min = list.Min(), median = Median(list);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  {name,-28} min {min / 1e6,9:F1} ms {flops / min,6:F1} GFLOP/s  x TorchSharp {min / torchMin:F2} | median {median / 1e6,9:F1} ms {flops / median,6:F1} GFLOP/s  x TorchSharp {median / torchMedian:F2} | CPU/wall {Median(cpuShares[name]):F2}"));
                    }
                }
                finally
                {
                    suite.Cleanup();
                }
            }
        }
        return 0;
    }

    /// <summary>
    /// <see cref="LoopShapeBenchmark"/>'s variants interleaved, after a check that each leaves the buffers bit for bit as
    /// the hand-written loop does (one step from the same starting values).
    /// </summary>
    private static int RunLoopShape(int rounds)
    {
        // The baseline (the hand-written loop) first: the check compares against it and the ratios are to it.
        var methods = typeof(LoopShapeBenchmark).GetMethods()
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<BenchmarkDotNet.Attributes.BenchmarkAttribute>()))
            .Where(m => m.Attribute is not null)
            .OrderBy(m => m.Attribute!.Baseline ? 0 : 1).ThenBy(m => m.Attribute!.SourceCodeLineNumber)
            .Select(m => m.Method).ToList();
        foreach (int size in LoopShapeBenchmark.Sizes)
        {
            var suite = new LoopShapeBenchmark { Size = size };
            var columns = methods.Select(m => (Name: m.Name, Run: m.CreateDelegate<Action>(suite))).ToList();
            float[][] Snapshot() => Enumerable.Range(0, 4).Select(suite.Buffer).ToArray();
            suite.Setup();
            columns[0].Run();
            float[][] expected = Snapshot();
            suite.Cleanup();
            foreach (var (name, run) in columns.Skip(1))
            {
                suite.Setup();
                run();
                float[][] actual = Snapshot();
                suite.Cleanup();
                bool same = expected.Zip(actual).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second));
                Console.WriteLine($"  {name,-22} {(same ? "bit-identical to" : "DIFFERS from")} {columns[0].Name}");
                if (!same)
                    return 1;
            }

            suite.Setup();
            try
            {
                var samples = columns.ToDictionary(c => c.Name, _ => new List<double>());
                // Warm-up until every column has run 200 times, for 1.5 s, and the JIT has compiled nothing for the last
                // 0.5 s (on a loaded machine the background tier-1 compilations lag).
                long warmStart = Stopwatch.GetTimestamp(), lastCompile = warmStart;
                long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
                for (int round = 0; round < 200 || Stopwatch.GetElapsedTime(warmStart).TotalSeconds < 1.5
                     || Stopwatch.GetElapsedTime(lastCompile).TotalSeconds < 0.5; round++)
                {
                    foreach (var (_, run) in columns)
                        run();
                    long now = System.Runtime.JitInfo.GetCompiledMethodCount();
                    if (now != compiled)
                    {
                        compiled = now;
                        lastCompile = Stopwatch.GetTimestamp();
                    }
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  (warm-up {Stopwatch.GetElapsedTime(warmStart).TotalSeconds:F1} s, JIT quiet for 0.5 s)"));
                int repeat = Math.Max(1, (int)(2_000_000.0 / (size * 28.0 / 20.0)));
                var random = new Random(1);
                for (int round = 0; round < rounds; round++)
                {
                    foreach (var (name, run) in Order(columns, random))
                    {
                        long start = Stopwatch.GetTimestamp();
                        for (int r = 0; r < repeat; r++)
                            run();
                        samples[name].Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds / repeat);
                    }
                }
                string baseline = columns[0].Name;
                double baseMin = samples[baseline].Min(), baseMedian = Median(samples[baseline]);
                Console.WriteLine($"LoopShapeBenchmark {BenchSettings.FormatSize(size)} One ({rounds} interleaved rounds, {OrderText}, x{repeat} per sample; load average {File.ReadAllText("/proc/loadavg").Trim()})");
                foreach (var (name, list) in samples)
                {
                    double min = list.Min(), median = Median(list);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {name,-22} min {min / 1e6,9:F4} ms  {size * 28.0 / min,6:F1} GB/s  of {baseline} {baseMin / min:F3} | median {median / 1e6,9:F4} ms  of {baseline} {baseMedian / median:F3}"));
                }
            }
            finally
            {
                suite.Cleanup();
            }
        }
        return 0;
    }

    /// <summary>
    /// The order of one round: shuffled afresh each round unless <c>--order</c> fixed it (<see cref="BenchSettings.ProbeOrder"/>).
    /// In a fixed order a column's time depends on the ones before it: at 1M the column that ran second after
    /// TensorPrimitives (20 MB of buffers, 11 passes) was 5-14% slower than elsewhere in the round, whichever loop it was
    /// (results/2026-11-29-l3-gap.md). Shuffling spreads that over every column.
    /// </summary>
    private static IEnumerable<T> Order<T>(IList<T> columns, Random random) where T : struct, ITuple
    {
        string? order = BenchSettings.ProbeOrder;
        if (order is null)
            return columns.OrderBy(_ => random.Next()).ToList();
        if (order == "fixed")
            return columns;
        return order.Split(',').Select(name => columns.First(c => (string)c[0]! == name)).ToList();
    }

    private static string OrderText => BenchSettings.ProbeOrder switch
    {
        null => "order shuffled each round",
        "fixed" => "fixed order",
        string order => "order " + order,
    };

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

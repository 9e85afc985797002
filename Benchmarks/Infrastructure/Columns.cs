using System;
using System.Globalization;
using System.Linq;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>Facts about one benchmark case that the custom columns and the summary writer share.</summary>
public static class CaseFacts
{
    /// <summary>
    /// Bytes the case moves per step: <see cref="StreamedBytesAttribute"/> of its class times its element count (its
    /// <c>Size</c> parameter, else its class's public static <c>TotalElements</c>).
    /// </summary>
    public static double? BytesPerStep(BenchmarkCase benchmarkCase)
    {
        var attribute = benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<StreamedBytesAttribute>()
            ?? benchmarkCase.Descriptor.Type.GetCustomAttribute<StreamedBytesAttribute>();
        if (attribute is null)
            return null;
        long elements = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Size")?.Value is int size
            ? size
            : benchmarkCase.Descriptor.Type.GetField("TotalElements", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) is int total
                ? total
                : MultiTensorBenchmark.TotalElements;
        return (double)attribute.BytesPerElement * elements;
    }

    /// <summary>The case's <see cref="Cores"/> parameter.</summary>
    public static Cores CoresOf(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Cores")?.Value is Cores c ? c : Cores.One;

    /// <summary>The threads the case runs on.</summary>
    public static int ThreadsOf(BenchmarkCase benchmarkCase)
    {
        string method = benchmarkCase.Descriptor.WorkloadMethod.Name;
        Cores cores = CoresOf(benchmarkCase);
        if (benchmarkCase.Descriptor.Type == typeof(NewtonSchulzBenchmark))
            return NewtonSchulzBenchmark.ThreadsFor(cores);
        if (method.Contains("Torch", StringComparison.Ordinal))
            return OptimizerBenchmark.TorchThreads(cores);
        if (method == nameof(OptimizerBenchmark.NaiveScalar))
            return 1;
        if (benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Size")?.Value is int size)
            return Chunks.ThreadsFor(size, cores);
        return MultiTensorBenchmark.ThreadsOf(method, cores);
    }

    /// <summary>
    /// Median time of a case in nanoseconds, or null when it did not run. The median, not the mean: on a shared
    /// machine a burst of load from another process drags the mean of a few iterations far more than the median.
    /// </summary>
    public static double? TimeNs(Summary summary, BenchmarkCase benchmarkCase) =>
        summary[benchmarkCase]?.ResultStatistics?.Median;
}

/// <summary>Effective bandwidth: bytes the step must move (every buffer read once, every written one once) ÷ median time.</summary>
public sealed class EffectiveBandwidthColumn : IColumn
{
    /// <inheritdoc />
    public string Id => "Kernels.GBps";
    /// <inheritdoc />
    public string ColumnName => "GB/s";
    /// <inheritdoc />
    public bool AlwaysShow => true;
    /// <inheritdoc />
    public ColumnCategory Category => ColumnCategory.Custom;
    /// <inheritdoc />
    public int PriorityInCategory => 0;
    /// <inheritdoc />
    public bool IsNumeric => true;
    /// <inheritdoc />
    public UnitType UnitType => UnitType.Dimensionless;
    /// <inheritdoc />
    public string Legend => "Effective bandwidth: bytes one step must move (4 per fp32 buffer read + 4 per buffer written, per element) / median time; 1 GB = 1e9 bytes";
    /// <inheritdoc />
    public bool IsAvailable(Summary summary) => true;
    /// <inheritdoc />
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? bytes = CaseFacts.BytesPerStep(benchmarkCase);
        double? ns = CaseFacts.TimeNs(summary, benchmarkCase);
        return bytes is null || ns is null or <= 0 ? "-" : (bytes.Value / ns.Value).ToString("F1", CultureInfo.InvariantCulture);
    }
}

/// <summary>Fraction of the roofline twin's speed: baseline median ÷ this median (1.00 = as fast as the bandwidth limit).</summary>
public sealed class RooflineFractionColumn : IColumn
{
    /// <inheritdoc />
    public string Id => "Kernels.OfRoofline";
    /// <inheritdoc />
    public string ColumnName => "OfRoofline";
    /// <inheritdoc />
    public bool AlwaysShow => true;
    /// <inheritdoc />
    public ColumnCategory Category => ColumnCategory.Custom;
    /// <inheritdoc />
    public int PriorityInCategory => 1;
    /// <inheritdoc />
    public bool IsNumeric => true;
    /// <inheritdoc />
    public UnitType UnitType => UnitType.Dimensionless;
    /// <inheritdoc />
    public string Legend => "Speed as a fraction of the row group's baseline (the roofline twin; in the multi-tensor suite, the flat tensor): baseline median / this median";
    /// <inheritdoc />
    public bool IsAvailable(Summary summary) => true;
    /// <inheritdoc />
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var baseline = summary.GetBaseline(summary.GetLogicalGroupKey(benchmarkCase));
        if (baseline is null)
            return "-";
        double? mine = CaseFacts.TimeNs(summary, benchmarkCase), theirs = CaseFacts.TimeNs(summary, baseline);
        return mine is null or <= 0 || theirs is null ? "-" : (theirs.Value / mine.Value).ToString("F2", CultureInfo.InvariantCulture);
    }
}

/// <summary>The number of threads the case runs on (TorchSharp: torch.get_num_threads()).</summary>
public sealed class ThreadsColumn : IColumn
{
    /// <inheritdoc />
    public string Id => "Kernels.Threads";
    /// <inheritdoc />
    public string ColumnName => "Thr";
    /// <inheritdoc />
    public bool AlwaysShow => true;
    /// <inheritdoc />
    public ColumnCategory Category => ColumnCategory.Params;
    /// <inheritdoc />
    public int PriorityInCategory => 10;
    /// <inheritdoc />
    public bool IsNumeric => true;
    /// <inheritdoc />
    public UnitType UnitType => UnitType.Dimensionless;
    /// <inheritdoc />
    public string Legend => "Threads the case runs on: the generated overload's own choice (StepOptions.ThreadCountFor; below its 256K-element threshold it stays on one thread), the same split for the hand-written columns, torch.get_num_threads() for TorchSharp; in the Newton-Schulz table, every row's (libtorch, OpenBLAS and managed GEMM threads alike)";
    /// <inheritdoc />
    public bool IsAvailable(Summary summary) => true;
    /// <inheritdoc />
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);
    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
        CaseFacts.ThreadsOf(benchmarkCase).ToString(CultureInfo.InvariantCulture);
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>
/// After a run, one markdown file with the ratios side by side: per optimizer, size and thread mode, the generated
/// step's time and bandwidth and how it compares with every other column; then the multi-tensor, drop-in and
/// Newton–Schulz rows.
/// </summary>
public static class SummaryWriter
{
    /// <summary>Writes Kernels-summary.md beside BenchmarkDotNet's own reports; returns its path.</summary>
    public static string Write(IReadOnlyList<Summary> summaries, RunMode mode)
    {
        var sb = new StringBuilder();
        var first = summaries[0];
        sb.AppendLine($"# Kernels benchmark summary ({mode} run, {DateTime.Now.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)})");
        sb.AppendLine();
        sb.AppendLine("```");
        foreach (string line in first.HostEnvironmentInfo.ToFormattedString())
            sb.AppendLine(line);
        sb.AppendLine($"torch.get_num_threads() default: {TorchDefaultThreads()}");
        sb.AppendLine("```");
        sb.AppendLine();

        var optimizerRows = new List<string>();
        var multiRows = new List<string>();
        var dropInRows = new List<string>();
        var newtonSchulzRows = new List<string>();
        foreach (var summary in summaries)
        {
            foreach (var group in summary.BenchmarksCases.GroupBy(c => c.Parameters.DisplayInfo))
            {
                var cases = group.ToDictionary(c => c.Descriptor.WorkloadMethod.Name, c => c);
                double? Mean(string method) => cases.TryGetValue(method, out var c) ? CaseFacts.TimeNs(summary, c) : null;
                var any = group.First();
                if (typeof(OptimizerBenchmark).IsAssignableFrom(any.Descriptor.Type))
                {
                    if (!cases.TryGetValue(nameof(OptimizerBenchmark.Generated), out var gen))
                        continue;
                    double? g = Mean(nameof(OptimizerBenchmark.Generated));
                    int size = (int)any.Parameters["Size"];
                    double? bytes = CaseFacts.BytesPerStep(gen);
                    optimizerRows.Add(Row(
                        any.Descriptor.Type.Name.Replace("Benchmark", "", StringComparison.Ordinal),
                        BenchSettings.FormatSize(size),
                        CaseFacts.CoresOf(any).ToString(),
                        CaseFacts.ThreadsOf(gen).ToString(CultureInfo.InvariantCulture),
                        Time(g),
                        g is null || bytes is null ? "-" : (bytes.Value / g.Value).ToString("F1", CultureInfo.InvariantCulture),
                        Ratio(Mean(nameof(OptimizerBenchmark.RooflineTwin)), g),
                        Ratio(Mean(nameof(OptimizerBenchmark.HandFused)), g),
                        Ratio(Mean(nameof(OptimizerBenchmark.TensorPrimitives)), g) + "x",
                        Ratio(Mean(nameof(OptimizerBenchmark.NaiveScalar)), g) + (cases.ContainsKey(nameof(OptimizerBenchmark.NaiveScalar)) ? "x" : ""),
                        Ratio(Mean(nameof(OptimizerBenchmark.TorchSharp)), g) + "x",
                        OptimizerBenchmark.TorchThreads(CaseFacts.CoresOf(any)).ToString(CultureInfo.InvariantCulture)));
                }
                else if (any.Descriptor.Type == typeof(TorchSharpDropInStepBenchmark) || any.Descriptor.Type == typeof(TorchSharpDropInTrainingBenchmark))
                {
                    bool step = any.Descriptor.Type == typeof(TorchSharpDropInStepBenchmark);
                    double? kernels = Mean(step ? nameof(TorchSharpDropInStepBenchmark.KernelsDropIn) : nameof(TorchSharpDropInTrainingBenchmark.KernelsDropInTrainStep));
                    double? torchSharp = Mean(step ? nameof(TorchSharpDropInStepBenchmark.TorchSharpAdamW) : nameof(TorchSharpDropInTrainingBenchmark.TorchSharpTrainStep));
                    double? bare = step ? Mean(nameof(TorchSharpDropInStepBenchmark.KernelsOptimizerObject)) : null;
                    dropInRows.Add(Row(
                        step ? $"AdamW step alone, {TorchSharpDropInStepBenchmark.TotalElements:N0} params in {TorchSharpDropInStepBenchmark.Shapes.Length} tensors" : "MLP 784-512-512-10 training step, batch 128",
                        CaseFacts.CoresOf(any).ToString(), OptimizerBenchmark.TorchThreads(CaseFacts.CoresOf(any)).ToString(CultureInfo.InvariantCulture),
                        Time(kernels), Time(bare), Time(torchSharp), Ratio(torchSharp, kernels) + "x"));
                }
                else if (any.Descriptor.Type == typeof(NewtonSchulzBenchmark))
                {
                    string shape = (string)any.Parameters["Shape"];
                    double? torchSharp = Mean(nameof(NewtonSchulzBenchmark.TorchSharpNewtonSchulz));
                    string Cell(string method) => Mean(method) is double ns
                        ? $"{Time(ns)} ({(NewtonSchulzBenchmark.Flops(shape) / ns).ToString("F1", CultureInfo.InvariantCulture)})"
                        : "-";
                    newtonSchulzRows.Add(Row(
                        shape, CaseFacts.CoresOf(any).ToString(), NewtonSchulzBenchmark.ThreadsFor(CaseFacts.CoresOf(any)).ToString(CultureInfo.InvariantCulture),
                        Cell(nameof(NewtonSchulzBenchmark.KernelsOpenBlas)), Cell(nameof(NewtonSchulzBenchmark.KernelsManaged)),
                        Cell(nameof(NewtonSchulzBenchmark.TorchSharpNewtonSchulz)), Cell(nameof(NewtonSchulzBenchmark.TorchSharpNewtonSchulzAddmm)),
                        Ratio(Mean(nameof(NewtonSchulzBenchmark.KernelsOpenBlas)), torchSharp) + "x",
                        Ratio(Mean(nameof(NewtonSchulzBenchmark.KernelsManaged)), torchSharp) + "x"));
                }
                else if (any.Descriptor.Type == typeof(MultiTensorBenchmark))
                {
                    double? flat = Mean(nameof(MultiTensorBenchmark.FlatGenerated));
                    double? flatTorch = Mean(nameof(MultiTensorBenchmark.FlatTorchSharp));
                    foreach (var c in group)
                    {
                        string method = c.Descriptor.WorkloadMethod.Name;
                        double? m = CaseFacts.TimeNs(summary, c);
                        double? bytes = CaseFacts.BytesPerStep(c);
                        bool torchRow = method.Contains("Torch", StringComparison.Ordinal);
                        multiRows.Add(Row(
                            CaseFacts.CoresOf(c).ToString(), method, CaseFacts.ThreadsOf(c).ToString(CultureInfo.InvariantCulture), Time(m),
                            m is null || bytes is null ? "-" : (bytes.Value / m.Value).ToString("F1", CultureInfo.InvariantCulture),
                            Ratio(flat, m), torchRow ? Ratio(flatTorch, m) : "-"));
                    }
                }
            }
        }

        if (optimizerRows.Count > 0)
        {
            sb.AppendLine("## Generated step against every other column");
            sb.AppendLine();
            sb.AppendLine("OfRoofline = roofline twin time / generated time (1.00 = at the bandwidth limit; target >= 0.95 at >= 16M, all cores).");
            sb.AppendLine("OfHandFused = hand-written fused time / generated time (target >= 0.97). The other columns are how many times");
            sb.AppendLine("faster the generated step is than TensorPrimitives (target >= 4x), the naive loop, and TorchSharp (target >= 8x for AdamW at 16M).");
            sb.AppendLine();
            sb.AppendLine(Row("Optimizer", "Size", "Cores", "Thr", "Generated (median)", "GB/s", "OfRoofline", "OfHandFused", "vs TensorPrimitives", "vs Naive", "vs TorchSharp", "Torch thr"));
            sb.AppendLine(Row("---", "---:", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"));
            optimizerRows.ForEach(r => sb.AppendLine(r));
            sb.AppendLine();
        }
        if (multiRows.Count > 0)
        {
            sb.AppendLine($"## Multi-tensor: {MultiTensorBenchmark.TensorCount} tensors x {MultiTensorBenchmark.TensorSize} vs one flat tensor of {MultiTensorBenchmark.TotalElements} (AdamW)");
            sb.AppendLine();
            sb.AppendLine("OfFlat = flat generated time / this time (target >= 0.90 for the generated multi-tensor step); OfFlatTorch = the same against TorchSharp's flat step.");
            sb.AppendLine();
            sb.AppendLine(Row("Cores", "Method", "Thr", "Median", "GB/s", "OfFlat", "OfFlatTorch"));
            sb.AppendLine(Row("---", "---", "---:", "---:", "---:", "---:", "---:"));
            multiRows.ForEach(r => sb.AppendLine(r));
        }

        if (dropInRows.Count > 0)
        {
            sb.AppendLine("## TorchSharp drop-in (Kernels.TorchSharp's KernelsOptim.AdamW against torch.optim.AdamW)");
            sb.AppendLine();
            sb.AppendLine("Optimizer object = the Kernels AdamW.Optimizer on the same storage, bound once (the drop-in without its per-step binding).");
            sb.AppendLine();
            sb.AppendLine(Row("Case", "Cores", "Thr", "Kernels drop-in (median)", "Optimizer object (median)", "TorchSharp (median)", "Drop-in speedup"));
            sb.AppendLine(Row("---", "---", "---:", "---:", "---:", "---:", "---:"));
            dropInRows.ForEach(r => sb.AppendLine(r));
            sb.AppendLine();
        }

        if (newtonSchulzRows.Count > 0)
        {
            sb.AppendLine("## Newton-Schulz (NS5, float32) against torch.optim.Muon's iteration with libtorch's matmul");
            sb.AppendLine();
            sb.AppendLine("Median time (nominal GFLOP/s). The last two columns: our time / TorchSharp's default-form time (target <= 1.3x at 1024x4096).");
            sb.AppendLine();
            sb.AppendLine(Row("Shape", "Cores", "Thr", "Kernels, OpenBLAS", "Kernels, managed GEMM", "TorchSharp", "TorchSharp, use_addmm", "OpenBLAS / TorchSharp", "Managed / TorchSharp"));
            sb.AppendLine(Row("---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"));
            newtonSchulzRows.ForEach(r => sb.AppendLine(r));
            sb.AppendLine();
        }

        string dir = first.ResultsDirectoryPath;
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "Kernels-summary.md");
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    private static int TorchDefaultThreads()
    {
        try
        {
            return TorchSharp.torch.get_num_threads();
        }
        catch (Exception)
        {
            return -1;
        }
    }

    private static string Row(params string[] cells) => "| " + string.Join(" | ", cells) + " |";

    private static string Ratio(double? numerator, double? denominator) =>
        numerator is null || denominator is null or <= 0 ? "-" : (numerator.Value / denominator.Value).ToString("F2", CultureInfo.InvariantCulture);

    private static string Time(double? ns) => ns switch
    {
        null => "-",
        < 1e3 => ns.Value.ToString("F1", CultureInfo.InvariantCulture) + " ns",
        < 1e6 => (ns.Value / 1e3).ToString("F1", CultureInfo.InvariantCulture) + " us",
        < 1e9 => (ns.Value / 1e6).ToString("F2", CultureInfo.InvariantCulture) + " ms",
        _ => (ns.Value / 1e9).ToString("F2", CultureInfo.InvariantCulture) + " s",
    };
}

using System;
using System.Linq;
#if !KERNELS_GPU_BUNDLE
using System.Collections.Generic;
using BenchmarkDotNet.Running;
using Kernels.Benchmarks.Infrastructure;
#endif

namespace Kernels.Benchmarks;

/// <summary>
/// Entry point. Suite switches (all optional, the rest goes to BenchmarkDotNet):
/// <c>--quick</c> (few iterations), <c>--dry</c> (each case once: proves it starts), <c>--sizes 16M,64M</c>
/// (a subset of the sizes), <c>--verify</c> (check every column against the naive loop, then exit),
/// <c>--probe [AdamW|Multi|NewtonSchulz|LoopShape] [--rounds 20] [--order fixed|A,B,…]</c> (interleaved min/median timing
/// of the non-TorchSharp columns — for NewtonSchulz, every row with TorchSharp's — then exit; the optimizer and loop-shape
/// probes shuffle the column order each round unless <c>--order</c> fixes it).
/// Without <c>--filter</c> every benchmark runs. <c>--gpu</c> and <c>--gpu-check</c> run the GPU benchmark and the GPU
/// correctness checks instead; they are all the GPU bundle (<c>-p:GpuBundle=true</c>, docs/Gpu.md) is built with.
/// </summary>
public static class Program
{
    /// <summary>Runs the suite.</summary>
    public static int Main(string[] args)
    {
        if (args.Contains("--gpu-check"))
            return Gpu.GpuCheck.Run(args); // every built-in's GPU kernels against its span overload, bit for bit: Benchmarks/Gpu/GpuCheck.cs
        if (args.Contains("--gpu"))
            return Gpu.GpuBenchmark.Run(args); // ILGPU kernels on a CUDA device (issue 4): Benchmarks/Gpu/GpuBenchmark.cs
#if KERNELS_GPU_BUNDLE
        // The bundle leaves out BenchmarkDotNet, TorchSharp and the CPU suite (Benchmarks.csproj, GpuBundle): say so
        // rather than fail on a missing type.
        Console.Error.WriteLine("This is the GPU bundle of Kernels.Benchmarks: only '--gpu-check' (GPU kernels against the CPU, bit for bit) and");
        Console.Error.WriteLine("'--gpu' (GPU benchmark) are in it; add '--cpu-accelerator' to run either on ILGPU's CPU accelerator. See docs/Gpu.md.");
        return 2;
#else
        var rest = new List<string>();
        RunMode mode = RunMode.Full;
        bool verify = false;
        string? probe = null;
        int rounds = 20;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": mode = RunMode.Quick; break;
                case "--dry": mode = RunMode.Dry; break;
                case "--verify": verify = true; break;
                case "--probe": probe = i + 1 < args.Length && !args[i + 1].StartsWith('-') ? args[++i] : ""; break;
                case "--rounds" when i + 1 < args.Length: rounds = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--sizes" when i + 1 < args.Length: BenchSettings.Sizes = BenchSettings.ParseSizes(args[++i]); break;
                case "--order" when i + 1 < args.Length: BenchSettings.ProbeOrder = args[++i]; break;
                default: rest.Add(args[i]); break;
            }
        }

        if (verify)
            return Verification.Run();
        if (probe is not null)
            return Probe.Run(probe.Length == 0 ? null : probe, rounds);

        if (!rest.Any(a => a is "--filter" or "-f" or "--list" or "--help" or "-h" or "--info"))
            rest.AddRange(["--filter", "*"]);

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.ToArray(), SuiteConfig.Create(mode)).ToList();
        if (summaries.Count > 0)
        {
            string path = SummaryWriter.Write(summaries, mode);
            Console.WriteLine($"// Kernels summary (ratios side by side): {path}");
        }
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
#endif
    }
}

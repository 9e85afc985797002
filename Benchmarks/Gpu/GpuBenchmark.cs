using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Kernels.Gpu;
using Kernels.Optimizers;

namespace Kernels.Benchmarks.Gpu;

/// <summary>
/// <c>dotnet run -c Release --project Benchmarks -- --gpu [options]</c>: the generated AdamW kernel on a CUDA
/// device against a device-to-device copy of the same bytes in the same run, as achieved GB/s and their ratio
/// (the copy is the practical bandwidth ceiling for a kernel that streams its buffers once).
/// <list type="bullet">
/// <item>One tensor of <c>--elements</c> fp32 parameters (default 1e9: param, grad, exp_avg, exp_avg_sq = 16 GB).</item>
/// <item>Multi-tensor: <c>--tensors 1000x65536</c> packed, ONE launch with per-tensor values, beside the same
/// tensors launched one by one and the packed single launch.</item>
/// </list>
/// Options: <c>--elements N</c>, <c>--tensors CxN</c>, <c>--iterations K</c> (default 10), <c>--device I</c>,
/// <c>--cpu-accelerator</c> (runs the same code on ILGPU's CPU emulator with small sizes: a smoke test, not a measurement).
/// Without a CUDA device it says so and exits with 0.
/// </summary>
public static class GpuBenchmark
{
    // Every reported row again, as one markdown table at the end, for results files (scripts/gpu-run.sh keeps the
    // lines that start with '|'); the section names the case the row belongs to.
    private static readonly List<string> s_rows = new();
    private static string s_section = "";

    public static int Run(string[] args)
    {
        bool emulate = args.Contains("--cpu-accelerator");
        long elements = Option(args, "--elements", emulate ? 1L << 20 : 1_000_000_000L);
        (int tensorCount, int tensorLength) = TensorsOption(args, emulate ? (50, 4096) : (1000, 65536));
        int iterations = (int)Option(args, "--iterations", emulate ? 2 : 10);
        int deviceIndex = (int)Option(args, "--device", 0);

        using Context context = Context.Create(builder => builder.Cuda().CPU().Optimize(OptimizationLevel.O2));
        Accelerator accelerator;
        if (emulate)
        {
            accelerator = context.CreateCPUAccelerator(0);
            Console.WriteLine("// --cpu-accelerator: ILGPU's CPU emulator, small sizes. A smoke test of this benchmark, NOT a GPU measurement.");
        }
        else
        {
            var cuda = context.GetCudaDevices();
            if (cuda.Count == 0)
            {
                Console.WriteLine("GPU benchmark: no CUDA device found (ILGPU sees none: no NVIDIA GPU or driver on this machine). Nothing measured.");
                Console.WriteLine("Run it on a machine with a CUDA GPU; '--cpu-accelerator' checks that the benchmark itself runs.");
                return 0;
            }
            if (deviceIndex >= cuda.Count)
            {
                Console.Error.WriteLine($"--device {deviceIndex}: only {cuda.Count} CUDA device(s).");
                return 2;
            }
            accelerator = cuda[deviceIndex].CreateCudaAccelerator(context);
        }

        using (accelerator)
        {
            Console.WriteLine($"// Device: {accelerator.Name} ({accelerator.AcceleratorType}), {accelerator.MemorySize / (1L << 30)} GiB; ILGPU {context.GetType().Assembly.GetName().Version}; strict PTX loader: {GpuKernels.CanLoadStrictPtx}");
            Console.WriteLine($"// {iterations} timed iterations after one warm-up (which also compiles the kernel); GB/s = bytes read + written per step / median time.");
            SingleTensor(accelerator, elements, iterations);
            MultiTensor(accelerator, tensorCount, tensorLength, iterations);
            Summary();
        }
        return 0;
    }

    private static void Summary()
    {
        Console.WriteLine();
        Console.WriteLine("| Case | Median time (ms) | GB/s | D2D copy of the same bytes (GB/s) | Kernel / copy |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (string row in s_rows)
            Console.WriteLine(row);
    }

    /// <summary>AdamW (amsgrad off) reads param, grad, exp_avg, exp_avg_sq and writes param, exp_avg, exp_avg_sq: 7 × 4 bytes per element.</summary>
    private const int AdamWBytesPerElement = 7 * sizeof(float);

    private static void SingleTensor(Accelerator accelerator, long elements, int iterations)
    {
        Console.WriteLine();
        s_section = string.Create(CultureInfo.InvariantCulture, $"AdamW, one tensor of {elements:N0}");
        Console.WriteLine($"## AdamW, one tensor of {elements:N0} fp32 parameters");
        AcceleratorStream stream = accelerator.DefaultStream;
        using var param = accelerator.Allocate1D<float>(elements);
        using var grad = accelerator.Allocate1D<float>(elements);
        using var expAvg = accelerator.Allocate1D<float>(elements);
        using var expAvgSq = accelerator.Allocate1D<float>(elements);
        Fill(accelerator, param.View, 0.5f);
        Fill(accelerator, grad.View, 1e-3f);
        Fill(accelerator, expAvg.View, 0f);
        Fill(accelerator, expAvgSq.View, 0f);

        int step = 0;
        double kernel = Median(iterations, () => AdamW.Step(stream, param.View, grad.View, expAvg.View, expAvgSq.View, default, step: ++step, lr: 1e-3), stream);
        param.Dispose(); grad.Dispose(); expAvg.Dispose(); expAvgSq.Dispose(); // room for the copy

        long bytes = elements * AdamWBytesPerElement;
        double copy = CopyOfSameBytes(accelerator, bytes, iterations);
        Report("AdamW kernel", bytes, kernel, copy);
    }

    private static void MultiTensor(Accelerator accelerator, int tensorCount, int tensorLength, int iterations)
    {
        long elements = (long)tensorCount * tensorLength;
        Console.WriteLine();
        s_section = string.Create(CultureInfo.InvariantCulture, $"AdamW, {tensorCount} tensors × {tensorLength:N0}");
        Console.WriteLine($"## AdamW, multi-tensor: {tensorCount} tensors × {tensorLength:N0} fp32 ({elements:N0} parameters)");
        AcceleratorStream stream = accelerator.DefaultStream;
        using var table = new GpuTensorTable(accelerator, Enumerable.Repeat((long)tensorLength, tensorCount).ToArray());
        using var param = accelerator.Allocate1D<float>(elements);
        using var grad = accelerator.Allocate1D<float>(elements);
        using var expAvg = accelerator.Allocate1D<float>(elements);
        using var expAvgSq = accelerator.Allocate1D<float>(elements);
        Fill(accelerator, param.View, 0.5f);
        Fill(accelerator, grad.View, 1e-3f);
        Fill(accelerator, expAvg.View, 0f);
        Fill(accelerator, expAvgSq.View, 0f);
        ArrayView<float> p = param.View, g = grad.View, m = expAvg.View, v = expAvgSq.View;
        var perTensor = new AdamWStepGpu.Inputs[tensorCount];

        int step = 0;
        double multi = Median(iterations, () =>
        {
            step++;
            for (int t = 0; t < tensorCount; t++)
                perTensor[t] = AdamWStepGpu.Prepare(step, lr: 1e-3, weightDecay: t % 4 == 0 ? 0 : 1e-2); // e.g. no decay on biases
            AdamW.Step(stream, table, p, g, m, v, default, perTensor);
        }, stream);
        double oneByOne = Median(iterations, () =>
        {
            step++;
            for (int t = 0; t < tensorCount; t++)
                AdamW.Step(stream, table.Slice(p, t), table.Slice(g, t), table.Slice(m, t), table.Slice(v, t), default, step: step, lr: 1e-3, weightDecay: t % 4 == 0 ? 0 : 1e-2);
        }, stream);
        double packed = Median(iterations, () => AdamW.Step(stream, p, g, m, v, default, step: ++step, lr: 1e-3), stream);

        long bytes = elements * AdamWBytesPerElement;
        double copy = CopyOfSameBytes(accelerator, bytes, iterations);
        Report("multi-tensor launch (per-tensor values, 1 launch)", bytes, multi, copy);
        Report($"one launch per tensor ({tensorCount} launches)", bytes, oneByOne, copy);
        Report("packed single launch (shared values)", bytes, packed, copy);
    }

    /// <summary>A device-to-device copy that reads and writes <paramref name="bytes"/> in all (bytes / 2 copied).</summary>
    private static double CopyOfSameBytes(Accelerator accelerator, long bytes, int iterations)
    {
        long count = bytes / 2 / sizeof(float);
        using var source = accelerator.Allocate1D<float>(count);
        using var target = accelerator.Allocate1D<float>(count);
        Fill(accelerator, source.View, 1f);
        AcceleratorStream stream = accelerator.DefaultStream;
        return Median(iterations, () => target.View.CopyFrom(stream, source.View), stream);
    }

    private static void Fill(Accelerator accelerator, ArrayView<float> view, float value)
    {
        accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(FillKernel)((int)view.Length, view, value);
        accelerator.Synchronize();
    }

    private static void FillKernel(Index1D index, ArrayView<float> view, float value) => view[index] = value;

    /// <summary>Median seconds of one synchronized run of <paramref name="action"/>, after one warm-up.</summary>
    private static double Median(int iterations, Action action, AcceleratorStream stream)
    {
        action();
        stream.Synchronize();
        var times = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            stream.Synchronize();
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(times);
        return times[iterations / 2];
    }

    private static void Report(string what, long bytes, double seconds, double copySeconds)
    {
        double gbps = bytes / seconds / 1e9, copyGbps = bytes / copySeconds / 1e9;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what,-52} {seconds * 1e3,10:F3} ms {gbps,9:F1} GB/s | D2D copy of the same bytes {copySeconds * 1e3,9:F3} ms {copyGbps,9:F1} GB/s | ratio {gbps / copyGbps:F3}"));
        s_rows.Add(string.Create(CultureInfo.InvariantCulture, $"| {s_section}: {what} | {seconds * 1e3:F3} | {gbps:F1} | {copyGbps:F1} | {gbps / copyGbps:F3} |"));
    }

    private static long Option(string[] args, string name, long fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? (long)double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static (int, int) TensorsOption(string[] args, (int, int) fallback)
    {
        int i = Array.IndexOf(args, "--tensors");
        if (i < 0 || i + 1 >= args.Length)
            return fallback;
        string[] parts = args[i + 1].Split('x');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }
}

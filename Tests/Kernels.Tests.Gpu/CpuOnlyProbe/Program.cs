using System;
using System.Linq;
using Kernels;
using Kernels.Optimizers;

namespace Kernels.Tests.Gpu.CpuOnlyProbe;

/// <summary>
/// Runs CPU steps of several built-ins (single- and multi-threaded), then reports whether ILGPU.dll is
/// loaded. With <c>--gpu</c> it also touches a GPU launcher afterwards (the positive control: then ILGPU must be loaded).
/// Exit code: 0 when the observation matches the expectation, 1 otherwise.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        bool touchGpu = args.Contains("--gpu");
        const int n = 1 << 19; // above StepOptions.DefaultParallelThreshold: the threaded path runs too
        var param = new float[n];
        var grad = new float[n];
        var expAvg = new float[n];
        var expAvgSq = new float[n];
        for (int i = 0; i < n; i++)
        {
            param[i] = i * 1e-6f;
            grad[i] = MathF.Sin(i);
        }
        AdamW.Step(param, grad, expAvg, expAvgSq, default, step: 1);
        Adam.Step(param, grad, expAvg, expAvgSq, default, step: 2, options: StepOptions.SingleThreaded);
        Lion.Step(param, grad, expAvg);
        SGD.Step(param, grad, expAvg, lr: 0.1, step: 1);

        if (touchGpu)
            TouchGpu();

        bool loaded = AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "ILGPU");
        Console.WriteLine(loaded ? "ILGPU loaded" : "ILGPU not loaded");
        return loaded == touchGpu ? 0 : 1;
    }

    // Separate method: its body (and the ILGPU types in it) is only compiled when it is called. AdamWStepGpu is the
    // built-in's GPU class in Kernels.Gpu (its launchers are static extension members of AdamW).
    private static void TouchGpu() => Console.WriteLine(typeof(AdamWStepGpu).GetMethod("Kernel")!.GetParameters().Length);
}

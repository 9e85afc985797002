using System;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace Kernels.Tests.Gpu.Harness;

/// <summary>
/// One ILGPU context (optimization level O2, as docs/Gpu.md recommends) and CPU accelerator shared by a test
/// class. The CPU accelerator runs kernels as ordinary .NET code on emulated warps and groups: no GPU needed.
/// </summary>
public sealed class CpuAcceleratorFixture : IDisposable
{
    public CpuAcceleratorFixture()
    {
        Context = Context.Create(builder => builder.CPU().Optimize(OptimizationLevel.O2));
        Accelerator = Context.CreateCPUAccelerator(0);
    }

    public Context Context { get; }

    public Accelerator Accelerator { get; }

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}

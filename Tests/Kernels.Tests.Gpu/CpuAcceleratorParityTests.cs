using System;
using System.Linq;
using Kernels.Tests.Gpu.Harness;
using Xunit;

namespace Kernels.Tests.Gpu;

/// <summary>
/// Every rule's GPU kernel, run on ILGPU's CPU accelerator, against its CPU span overload. Tolerance: none —
/// bit-identical. The CPU accelerator runs the kernel as .NET code (GpuMath's host forms are the .NET
/// functions; .NET never contracts a*b+c), and the span overload is bit-identical to the scalar rule, so any
/// difference is a real bug in the kernel's loads, stores, guards, or step-invariant values. (Rules calling
/// Exp/Log are compared with the scalar rule instead: their span overload uses vector Exp/Log, within 2 ulp.)
/// </summary>
public sealed class CpuAcceleratorParityTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly CpuAcceleratorFixture _fixture;

    public CpuAcceleratorParityTests(CpuAcceleratorFixture fixture) => _fixture = fixture;

    [Fact]
    public void Every_built_in_has_a_gpu_part()
    {
        string[] names = BuiltInRule.BuiltIns.Select(r => r.Name).ToArray();
        Assert.Contains("AdamW.Step", names);
        Assert.Contains("SGD.Step", names);
        Assert.Contains("SophiaG.UpdateHessian", names);
        Assert.Contains("Muon.UpdateMomentum", names);
        // Every [UpdateRule] of Kernels.dll (one source file each, SophiaG and Muon two, Lamb three) has its GPU class in Kernels.Gpu, generated
        // from the rule's plan. The harness lists those with a multi-tensor launch: all but the two rules with reductions (Lars.Step, Lamb.Step),
        // whose GPU classes are checked in ReductionGpuTests.
        int files = System.IO.Directory.GetFiles(System.IO.Path.Combine(PtxTests.RepositoryRoot(), "Runtime", "Optimizers"), "*.cs").Length;
        Assert.DoesNotContain("Lars.Step", names);
        Assert.Equal(files + 4 - 2, names.Length);
    }

    [Fact]
    public void The_cpu_runtime_does_not_reference_ilgpu()
    {
        Assert.DoesNotContain(typeof(Kernels.Optimizers.AdamW).Assembly.GetReferencedAssemblies(), a => a.Name == "ILGPU");
        Assert.Contains(typeof(Kernels.Gpu.GpuKernels).Assembly.GetReferencedAssemblies(), a => a.Name == "ILGPU");
    }

    [Theory]
    [MemberData(nameof(BuiltInRule.AllNames), MemberType = typeof(BuiltInRule))]
    public void Kernel_on_the_cpu_accelerator_is_bit_identical_to_the_span_overload(string name)
    {
        BuiltInRule rule = BuiltInRule.Named(name);
        int seed = 1;
        foreach (int length in new[] { 1, 3001 })
        {
            foreach (object?[] uniforms in rule.Configurations())
            {
                Array[] initial = rule.InitialBuffers(length, seed++);
                Array[] expected = Bits.Clone(initial);
                using var device = new DeviceBuffers(_fixture.Accelerator, initial);
                for (int step = 0; step < 2; step++)
                {
                    rule.RunReference(expected, uniforms);
                    rule.RunGpu(_fixture.Accelerator.DefaultStream, device.Views, uniforms);
                }
                _fixture.Accelerator.Synchronize();
                Bits.Equal(expected, device.Read(), $"{name}, length {length}, uniforms ({string.Join(", ", uniforms)})");
            }
        }
    }
}

using System;
using System.Linq;
using Kernels.Gpu;
using Kernels.Optimizers;
using Kernels.Tests.Gpu.Harness;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace Kernels.Tests.Gpu;

/// <summary>
/// The multi-tensor launch: tensors packed back to back, one launch, each tensor with its own step-invariant
/// values — against the span overload run tensor by tensor with those values (bit-identical).
/// </summary>
public sealed class MultiTensorTests : IClassFixture<CpuAcceleratorFixture>
{
    private static readonly long[] s_lengths = { 5, 0, 1000, 1, 2049, 64 };

    private readonly CpuAcceleratorFixture _fixture;

    public MultiTensorTests(CpuAcceleratorFixture fixture) => _fixture = fixture;

    [Theory]
    [MemberData(nameof(BuiltInRule.AllNames), MemberType = typeof(BuiltInRule))]
    public void One_launch_updates_every_tensor_with_its_own_values(string name)
    {
        BuiltInRule rule = BuiltInRule.Named(name);
        object?[][] configurations = rule.Configurations().ToArray();
        int total = (int)s_lengths.Sum();
        Array[] initial = rule.InitialBuffers(total, seed: 42);
        Array[] expected = Bits.Clone(initial);

        // Reference: each tensor on its own, with its own configuration.
        long offset = 0;
        var perTensor = Array.CreateInstance(rule.Prepare.ReturnType, s_lengths.Length);
        for (int t = 0; t < s_lengths.Length; t++)
        {
            object?[] uniforms = configurations[t % configurations.Length];
            perTensor.SetValue(rule.PrepareInputs(uniforms), t);
            Array[] slices = expected.Select(a => Slice(a, offset, s_lengths[t])).ToArray();
            rule.RunReference(slices, uniforms);
            for (int b = 0; b < slices.Length; b++)
                Array.Copy(slices[b], 0, expected[b], offset, s_lengths[t]);
            offset += s_lengths[t];
        }

        using var table = new GpuTensorTable(_fixture.Accelerator, s_lengths);
        using var device = new DeviceBuffers(_fixture.Accelerator, initial);
        rule.RunMultiGpu(_fixture.Accelerator.DefaultStream, table, device.Views, perTensor);
        _fixture.Accelerator.Synchronize();
        Bits.Equal(expected, device.Read(), name + " (multi-tensor)");
    }

    [Fact]
    public void Table_describes_the_packed_layout()
    {
        using var table = new GpuTensorTable(_fixture.Accelerator, s_lengths);
        Assert.Equal(s_lengths.Length, table.Count);
        Assert.Equal(s_lengths.Sum(), table.TotalLength);
        Assert.Equal(1005, table.OffsetOf(3));
        Assert.Equal(1, table.LengthOf(3));
        Assert.Equal(new long[] { 0, 5, 5, 1005, 1006, 3055, 3119 }, ((ArrayView1D<long, Stride1D.Dense>)table.Offsets).GetAsArray1D());
        Assert.Throws<ArgumentOutOfRangeException>(() => table.OffsetOf(s_lengths.Length));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GpuTensorTable(_fixture.Accelerator, new long[] { 3, -1 }));
        Assert.Throws<ArgumentException>(() => new GpuTensorTable(_fixture.Accelerator, new long[] { int.MaxValue, 1 }));

        // Every packed element finds its tensor; empty tensors are never found.
        long[] offsets = ((ArrayView1D<long, Stride1D.Dense>)table.Offsets).GetAsArray1D();
        for (int index = 0; index < table.TotalLength; index++)
        {
            int t = GpuTensorTable.FindTensor(table.Offsets, index);
            Assert.InRange(index, offsets[t], offsets[t + 1] - 1);
        }
    }

    [Fact]
    public void Slice_is_the_tensors_part_of_a_packed_view()
    {
        using var table = new GpuTensorTable(_fixture.Accelerator, s_lengths);
        using var packed = _fixture.Accelerator.Allocate1D(Enumerable.Range(0, (int)table.TotalLength).Select(i => (float)i).ToArray());
        ArrayView<float> slice = table.Slice((ArrayView<float>)packed.View, 4);
        Assert.Equal(2049, slice.Length);
        using var copy = _fixture.Accelerator.Allocate1D<float>(slice.Length);
        copy.View.CopyFrom(slice);
        Assert.Equal(1006f, copy.GetAsArray1D()[0]);
    }

    [Fact]
    public void Packed_single_launch_equals_multi_tensor_launch_with_equal_values()
    {
        long[] lengths = { 300, 17, 4000 };
        int total = (int)lengths.Sum();
        var random = new Random(7);
        float[] Fill(bool positive) => Enumerable.Range(0, total).Select(_ => (float)(positive ? random.NextDouble() * 0.1 : random.NextDouble() * 2 - 1)).ToArray();
        float[] p = Fill(false), g = Fill(false), m = Fill(false), v = Fill(true);

        Accelerator accelerator = _fixture.Accelerator;
        using var p1 = accelerator.Allocate1D(p); using var g1 = accelerator.Allocate1D(g); using var m1 = accelerator.Allocate1D(m); using var v1 = accelerator.Allocate1D(v);
        using var p2 = accelerator.Allocate1D(p); using var g2 = accelerator.Allocate1D(g); using var m2 = accelerator.Allocate1D(m); using var v2 = accelerator.Allocate1D(v);
        AdamW.Step(accelerator.DefaultStream, p1.View, g1.View, m1.View, v1.View, default, step: 4, lr: 3e-3);

        using var table = new GpuTensorTable(accelerator, lengths);
        var args = Enumerable.Repeat(AdamWStepGpu.Prepare(step: 4, lr: 3e-3), lengths.Length).ToArray();
        AdamW.Step(accelerator.DefaultStream, table, p2.View, g2.View, m2.View, v2.View, default, args);
        accelerator.Synchronize();

        Bits.Equal(new Array[] { p1.GetAsArray1D(), m1.GetAsArray1D(), v1.GetAsArray1D() }, new Array[] { p2.GetAsArray1D(), m2.GetAsArray1D(), v2.GetAsArray1D() }, "packed vs multi-tensor");
    }

    private static Array Slice(Array source, long offset, long length)
    {
        Array slice = Array.CreateInstance(source.GetType().GetElementType()!, length);
        Array.Copy(source, offset, slice, 0, length);
        return slice;
    }
}

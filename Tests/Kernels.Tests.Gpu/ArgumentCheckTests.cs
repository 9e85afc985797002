using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Kernels.Gpu;
using Kernels.Optimizers;
using Kernels.Tests.Gpu.Harness;
using Xunit;

namespace Kernels.Tests.Gpu;

/// <summary>The launchers' host-side checks: a clear ArgumentException naming the argument, and nothing written.</summary>
public sealed class ArgumentCheckTests : IClassFixture<CpuAcceleratorFixture>, IDisposable
{
    private const int N = 257;
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _param, _grad, _expAvg, _expAvgSq, _max, _short, _big;

    public ArgumentCheckTests(CpuAcceleratorFixture fixture)
    {
        _accelerator = fixture.Accelerator;
        _stream = _accelerator.DefaultStream;
        float[] Data(int n, float start) => Enumerable.Range(0, n).Select(i => start + i * 1e-3f).ToArray();
        _param = _accelerator.Allocate1D(Data(N, 1));
        _grad = _accelerator.Allocate1D(Data(N, 2));
        _expAvg = _accelerator.Allocate1D(Data(N, 3));
        _expAvgSq = _accelerator.Allocate1D(Data(N, 4));
        _max = _accelerator.Allocate1D(Data(N, 5));
        _short = _accelerator.Allocate1D(Data(N - 1, 6));
        _big = _accelerator.Allocate1D(Data(2 * N, 7));
    }

    public void Dispose()
    {
        foreach (var b in new[] { _param, _grad, _expAvg, _expAvgSq, _max, _short, _big })
            b.Dispose();
    }

    private float[][] Snapshot() => new[] { _param, _grad, _expAvg, _expAvgSq, _max, _short, _big }.Select(b => b.GetAsArray1D()).ToArray();

    private void AssertRejected(string parameter, Action launch)
    {
        float[][] before = Snapshot();
        var e = Assert.ThrowsAny<ArgumentException>(launch);
        Assert.Equal(parameter, e.ParamName);
        Assert.Contains(parameter, e.Message);
        _accelerator.Synchronize();
        float[][] after = Snapshot();
        for (int b = 0; b < before.Length; b++)
            Assert.Equal(before[b], after[b]); // nothing written
    }

    [Fact]
    public void Length_mismatch_names_the_view()
    {
        AssertRejected("expAvg", () => AdamW.Step(_stream, _param.View, _grad.View, _short.View, _expAvgSq.View, default, step: 1));
        AssertRejected("grad", () => SGD.Step(_stream, _param.View, _short.View, _expAvg.View, lr: 0.1, step: 1));
    }

    [Fact]
    public void Guarded_view_is_checked_only_when_used()
    {
        AssertRejected("maxExpAvgSq", () => AdamW.Step(_stream, _param.View, _grad.View, _expAvg.View, _expAvgSq.View, _short.View, step: 1, amsgrad: true));
        AssertRejected("maxExpAvgSq", () => AdamW.Step(_stream, _param.View, _grad.View, _expAvg.View, _expAvgSq.View, default, step: 1, amsgrad: true));

        // Unused (amsgrad off): may be default, or anything; never touched.
        float[] max = _max.GetAsArray1D();
        AdamW.Step(_stream, _param.View, _grad.View, _expAvg.View, _expAvgSq.View, default, step: 1);
        AdamW.Step(_stream, _param.View, _grad.View, _expAvg.View, _expAvgSq.View, _short.View, step: 2);
        AdamW.Step(_stream, _param.View, _grad.View, _expAvg.View, _expAvgSq.View, _max.View, step: 3);
        _accelerator.Synchronize();
        Assert.Equal(max, _max.GetAsArray1D());
    }

    [Fact]
    public void Overlapping_written_views_are_rejected()
    {
        ArrayView<float> big = _big.View;
        AssertRejected("expAvg", () => AdamW.Step(_stream, big.SubView(0, N), _grad.View, big.SubView(N - 1, N), _expAvgSq.View, default, step: 1));
        AssertRejected("grad", () => Adam.Step(_stream, _grad.View, _grad.View, _expAvg.View, _expAvgSq.View, default, step: 1) );
    }

    [Fact]
    public void Disjoint_views_of_one_buffer_are_accepted()
    {
        ArrayView<float> big = _big.View;
        AdamW.Step(_stream, big.SubView(0, N), _grad.View, big.SubView(N, N), _expAvgSq.View, default, step: 1);
        _accelerator.Synchronize();
    }

    [Fact]
    public void View_on_another_accelerator_is_rejected()
    {
        using var other = _accelerator.Context.CreateCPUAccelerator(0);
        using var foreign = other.Allocate1D<float>(N);
        AssertRejected("grad", () => AdamW.Step(_stream, _param.View, foreign.View, _expAvg.View, _expAvgSq.View, default, step: 1));
        using var table = new GpuTensorTable(other, new long[] { N });
        AssertRejected("tensors", () => AdamW.Step(_stream, table, _param.View, _grad.View, _expAvg.View, _expAvgSq.View, default, new[] { AdamWStepGpu.Prepare(1) }));
    }

    [Fact]
    public void Multi_tensor_checks_counts_and_lengths()
    {
        using var table = new GpuTensorTable(_accelerator, new long[] { 100, N - 100 });
        var one = new[] { AdamWStepGpu.Prepare(1) };
        var two = new[] { AdamWStepGpu.Prepare(1), AdamWStepGpu.Prepare(1, amsgrad: true) };
        AssertRejected("perTensor", () => AdamW.Step(_stream, table, _param.View, _grad.View, _expAvg.View, _expAvgSq.View, default, one));
        AssertRejected("grad", () => AdamW.Step(_stream, table, _param.View, _short.View, _expAvg.View, _expAvgSq.View, default, two));
        AssertRejected("maxExpAvgSq", () => AdamW.Step(_stream, table, _param.View, _grad.View, _expAvg.View, _expAvgSq.View, default, two));
    }

    [Fact]
    public void Null_stream_and_empty_views()
    {
        Assert.Throws<ArgumentNullException>(() => AdamW.Step(null!, _param.View, _grad.View, _expAvg.View, _expAvgSq.View, default, step: 1));
        // Zero elements: nothing to launch, default views accepted (as empty spans are on the CPU).
        AdamW.Step(_stream, default, default, default, default, default, step: 1);
        using var empty = new GpuTensorTable(_accelerator, ReadOnlySpan<long>.Empty);
        AdamW.Step(_stream, empty, default, default, default, default, default, ReadOnlySpan<AdamWStepGpu.Inputs>.Empty);
    }

    [Fact]
    public void Kernel_is_loaded_once_per_accelerator_across_threads()
    {
        var cache = new GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, Kernels.Tests.Gpu.Rules.PlainRule.UpdateGpu.Inputs>>(
            typeof(Kernels.Tests.Gpu.Rules.PlainRule.UpdateGpu).GetMethod("Kernel")!);
        using var other = _accelerator.Context.CreateCPUAccelerator(0);
        var loaded = new System.Collections.Concurrent.ConcurrentBag<object>();
        System.Threading.Tasks.Parallel.For(0, 16, i => loaded.Add(cache.For(i % 2 == 0 ? _accelerator : other)));
        Assert.Equal(2, loaded.Distinct().Count()); // one launcher per accelerator, however many threads asked first
        Assert.Same(cache.For(_accelerator), cache.For(_accelerator));
    }
}

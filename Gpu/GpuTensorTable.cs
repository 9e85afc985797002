using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Kernels.Gpu;

/// <summary>
/// The layout of many tensors packed back to back in one buffer per kind of state (parameters, gradients,
/// moments…), for the generated multi-tensor launch: one kernel launch updates every tensor, each with its
/// own step-invariant values (its own step count, learning rate, weight decay…), instead of one launch per
/// tensor (the launch overhead that PyTorch's <c>foreach</c>/<c>fused</c> optimizers and Apex's
/// <c>multi_tensor_apply</c> avoid).
/// </summary>
/// <remarks>
/// Tensor <c>t</c> occupies elements <c>[OffsetOf(t), OffsetOf(t) + LengthOf(t))</c> of every packed view.
/// The table keeps the offsets on the accelerator, and a small scratch buffer that each multi-tensor launch
/// fills with the per-tensor values on the launch's stream (that copy waits for the stream): use a table from
/// one stream at a time.
/// </remarks>
public sealed class GpuTensorTable : IDisposable
{
    private readonly long[] _offsets;
    private readonly MemoryBuffer1D<long, Stride1D.Dense> _deviceOffsets;
    private readonly object _scratchLock = new();
    private MemoryBuffer1D<byte, Stride1D.Dense>? _scratch;
    private bool _disposed;

    /// <summary>Lays out tensors of the given lengths back to back and copies the offsets to <paramref name="accelerator"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A length is negative.</exception>
    /// <exception cref="ArgumentException">The total exceeds what one launch can index (<see cref="int.MaxValue"/> elements).</exception>
    public GpuTensorTable(Accelerator accelerator, ReadOnlySpan<long> lengths)
    {
        Accelerator = accelerator ?? throw new ArgumentNullException(nameof(accelerator));
        _offsets = new long[lengths.Length + 1];
        for (int t = 0; t < lengths.Length; t++)
        {
            if (lengths[t] < 0)
                throw new ArgumentOutOfRangeException(nameof(lengths), lengths[t], $"Tensor {t} has a negative length.");
            _offsets[t + 1] = _offsets[t] + lengths[t];
            if (_offsets[t + 1] > GpuChecks.MaxElements)
                throw new ArgumentException($"The tensors hold more than {GpuChecks.MaxElements} elements in all, more than one launch can index; use several tables.", nameof(lengths));
        }
        _deviceOffsets = accelerator.Allocate1D(_offsets);
    }

    /// <summary>The accelerator holding the offsets; every view of a launch must be on it.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Number of tensors.</summary>
    public int Count => _offsets.Length - 1;

    /// <summary>Elements of all tensors together: the length every packed view must have.</summary>
    public long TotalLength => _offsets[^1];

    /// <summary>Where tensor <paramref name="tensor"/> starts in the packed views.</summary>
    public long OffsetOf(int tensor) => _offsets[CheckIndex(tensor)];

    /// <summary>Number of elements of tensor <paramref name="tensor"/>.</summary>
    public long LengthOf(int tensor) => _offsets[CheckIndex(tensor) + 1] - _offsets[tensor];

    /// <summary>Tensor <paramref name="tensor"/>'s elements of a packed view.</summary>
    public ArrayView<T> Slice<T>(ArrayView<T> packed, int tensor) where T : unmanaged
    {
        if (packed.Length != TotalLength)
            throw new ArgumentException($"'{nameof(packed)}' has {packed.Length} elements but the table holds {TotalLength}.", nameof(packed));
        return packed.SubView(OffsetOf(tensor), LengthOf(tensor));
    }

    /// <summary>The <see cref="Count"/> + 1 offsets on the accelerator (the last one is <see cref="TotalLength"/>).</summary>
    public ArrayView<long> Offsets
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _deviceOffsets.View;
        }
    }

    /// <summary>Copies one launch's per-tensor values to the table's scratch buffer on <paramref name="stream"/> (used by generated launchers).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ArrayView<TInputs> Upload<TInputs>(AcceleratorStream stream, ReadOnlySpan<TInputs> perTensor) where TInputs : unmanaged
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        long bytes = Math.Max(1, (long)perTensor.Length * Unsafe.SizeOf<TInputs>());
        lock (_scratchLock)
        {
            if (_scratch is null || _scratch.Length < bytes)
            {
                if (_scratch is not null)
                {
                    stream.Synchronize(); // a launch in flight may still read the old scratch
                    _scratch.Dispose();
                }
                _scratch = Accelerator.Allocate1D<byte>(Math.Max(bytes, 4096));
            }
            ArrayView<byte> bytesView = _scratch.View;
            ArrayView<TInputs> view = bytesView.SubView(0, (long)perTensor.Length * Unsafe.SizeOf<TInputs>()).Cast<TInputs>();
            view.CopyFromCPU(stream, perTensor);
            return view;
        }
    }

    /// <summary>
    /// Device side: the tensor that packed element <paramref name="index"/> belongs to, by binary search of
    /// <paramref name="offsets"/> (log2 of the tensor count steps; adjacent threads read the same entries).
    /// Empty tensors are never found.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static int FindTensor(ArrayView<long> offsets, int index)
    {
        int low = 0;
        int high = offsets.IntLength - 2;
        while (low < high)
        {
            int middle = (low + high + 1) >> 1;
            if (offsets[middle] <= index)
                low = middle;
            else
                high = middle - 1;
        }
        return low;
    }

    /// <summary>Frees the table's accelerator memory.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _deviceOffsets.Dispose();
        _scratch?.Dispose();
    }

    private int CheckIndex(int tensor)
    {
        if ((uint)tensor >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(tensor), tensor, $"The table holds {Count} tensors.");
        return tensor;
    }
}

using System;
using ILGPU;
using ILGPU.Runtime;
using Kernels.Matrices;
using Kernels.Optimizers;

namespace Kernels.Gpu;

/// <summary>
/// One Muon step of one matrix on the GPU (torch.optim.Muon's <c>_single_tensor_muon</c>, as <c>Muon.Optimizer</c>
/// runs it per parameter on the CPU): <c>Muon.UpdateMomentum(stream, …)</c> (the rule's generated kernel),
/// <see cref="GpuNewtonSchulz"/>, then <c>Muon.ApplyUpdate(stream, …)</c> with the shape-adjusted learning rate.
/// Holds the update and Newton–Schulz scratch buffers: one instance per accelerator, used from one stream at a time.
/// </summary>
/// <remarks>
/// The state (the momentum buffer, zeros before the first step) is the caller's, as in the rules' launchers. On the
/// CPU accelerator a step is bit-identical to <c>Muon.Optimizer</c>'s with the managed GEMM (the element-wise kernels
/// are the rules' bodies, the products are summed in the managed kernel's order; see <see cref="GpuNewtonSchulz"/>
/// for the norm).
/// </remarks>
public sealed class GpuMuon : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly GpuNewtonSchulz _newtonSchulz;
    private MemoryBuffer1D<float, Stride1D.Dense>? _update;

    /// <summary>Creates the workspace for <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">Where the parameters live.</param>
    public GpuMuon(Accelerator accelerator)
    {
        _accelerator = accelerator ?? throw new ArgumentNullException(nameof(accelerator));
        _newtonSchulz = new GpuNewtonSchulz(accelerator);
    }

    /// <summary>
    /// One step of the <paramref name="rows"/>×<paramref name="cols"/> parameter <paramref name="param"/> (row-major)
    /// on <paramref name="stream"/> (asynchronous), with torch.optim.Muon's hyperparameters and defaults.
    /// </summary>
    /// <param name="stream">A stream of this workspace's accelerator.</param>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="momentumBuffer">Its momentum buffer (zeros before the first step), updated in place.</param>
    /// <param name="rows">The parameter's first dimension.</param>
    /// <param name="cols">Its second dimension.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="weightDecay">Decoupled weight decay (with the unadjusted lr).</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="nesterov">Nesterov momentum.</param>
    /// <param name="nsCoefficients">Newton–Schulz (a, b, c); <see langword="null"/>: (3.4445, -4.7750, 2.0315).</param>
    /// <param name="eps">The floor of the norm the update is divided by.</param>
    /// <param name="nsSteps">Newton–Schulz iterations, 0 to 99.</param>
    /// <param name="adjustLrFn">The learning-rate scaling for the shape.</param>
    /// <param name="nsPrecision">The precision of the Newton–Schulz iteration.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyperparameter or dimension is out of range.</exception>
    /// <exception cref="ArgumentException">A view does not hold rows × cols elements, is on another accelerator, or overlaps another.</exception>
    public void Step(
        AcceleratorStream stream, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> momentumBuffer, int rows, int cols,
        double lr = 1e-3, double weightDecay = 0.1, double momentum = 0.95, bool nesterov = true,
        (double A, double B, double C)? nsCoefficients = null, double eps = NewtonSchulz.DefaultEps, int nsSteps = NewtonSchulz.DefaultSteps,
        Muon.LrAdjustment adjustLrFn = Muon.LrAdjustment.Original, NewtonSchulzPrecision nsPrecision = NewtonSchulzPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (!(lr >= 0))
            throw new ArgumentOutOfRangeException(nameof(lr), lr, "The learning rate must be 0 or more.");
        if (!(momentum >= 0))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "The momentum must be 0 or more.");
        if (!(weightDecay >= 0))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "The weight decay must be 0 or more.");
        if (nsSteps < 0 || nsSteps >= NewtonSchulz.MaxSteps)
            throw new ArgumentOutOfRangeException(nameof(nsSteps), nsSteps, $"Muon's number of Newton-Schulz steps must be in [0, {NewtonSchulz.MaxSteps}).");
        if (nsPrecision is not (NewtonSchulzPrecision.Float32 or NewtonSchulzPrecision.BFloat16))
            throw new ArgumentOutOfRangeException(nameof(nsPrecision), nsPrecision, "Not a NewtonSchulzPrecision.");
        double adjustedLr = Muon.AdjustLr(lr, rows, cols, adjustLrFn);   // throws on an undefined adjustment
        long length = (long)rows * cols;
        if (param.Length != length)
            throw new ArgumentException($"'{nameof(param)}' holds {param.Length} elements; a {rows}x{cols} matrix has {length}.", nameof(param));
        if (length == 0)
            return;
        if (!ReferenceEquals(stream.Accelerator, _accelerator))
            throw new ArgumentException("The stream belongs to another accelerator than this workspace's.", nameof(stream));
        GpuChecks.RequireLaunchable(length, nameof(param));
        GpuChecks.RequireOn(_accelerator, param, nameof(param));
        if (GpuChecks.Overlaps(param, grad) || GpuChecks.Overlaps(param, momentumBuffer))
            throw new ArgumentException("'param' overlaps 'grad' or 'momentumBuffer'.", nameof(param));
        if (_update is null || _update.Length < length)
        {
            _update?.Dispose();
            _update = _accelerator.Allocate1D<float>(length);
        }
        ArrayView<float> update = _update.View.SubView(0, length);
        (double a, double b, double c) = nsCoefficients ?? (NewtonSchulz.DefaultA, NewtonSchulz.DefaultB, NewtonSchulz.DefaultC);

        // buf.lerp_(grad, 1 - momentum); update = grad.lerp(buf, momentum) if nesterov else buf
        Muon.UpdateMomentum(stream, momentumBuffer, grad, update, momentum, nesterov);
        // update = zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps), in place
        _newtonSchulz.Orthogonalize(stream, update, update, rows, cols, nsSteps, a, b, c, eps, nsPrecision);
        // param.mul_(1 - lr * weight_decay); param.add_(update, alpha=-adjusted_lr)
        Muon.ApplyUpdate(stream, param, update, lr, adjustedLr, weightDecay);
    }

    /// <summary>Frees the scratch buffers.</summary>
    public void Dispose()
    {
        _update?.Dispose();
        _update = null;
        _newtonSchulz.Dispose();
    }
}

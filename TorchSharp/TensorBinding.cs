using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Training;
using TorchSharp;
using static TorchSharp.torch;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace Kernels.Torch;

/// <summary>
/// One TorchSharp parameter as the Kernels optimizer sees it: a <see cref="Parameter{T}"/> whose values and gradient
/// are the tensor's and its <c>grad</c>'s storage, re-read before every use (a module moved, a gradient reallocated by
/// autograd after <c>zero_grad(set_to_none)</c>) and checked each time.
/// </summary>
internal sealed unsafe class TensorBinding
{
    private readonly TensorMemory _data;
    private readonly TensorMemory _grad;
    private readonly long[] _shape;

    /// <summary>Checks <paramref name="tensor"/> and wraps its storage.</summary>
    /// <exception cref="ArgumentException">The tensor is not a CPU, float32, contiguous tensor that requires grad.</exception>
    public TensorBinding(string name, TorchParameter tensor)
    {
        Name = name;
        Tensor = tensor;
        if ((Problem(tensor) ?? TrainableProblem(tensor)) is { } problem)
            throw new ArgumentException($"Parameter '{name}' {problem}", "parameters");
        _shape = tensor.shape;
        int[] shape = new int[_shape.Length];
        for (int d = 0; d < shape.Length; d++)
            shape[d] = (int)_shape[d];   // each dimension is at most the element count, checked by Problem
        int length = (int)tensor.numel();
        _data = new TensorMemory(name, "values", length);
        _grad = new TensorMemory(name, "gradient", length);
        _data.Bind(Address(tensor));
        Parameter = new Parameter<float>(name, _data.Memory, _grad.Memory, shape) { HasGrad = false };
        _grad.Seal();
    }

    /// <summary>The parameter's name (its index, or its name from <c>named_parameters()</c>).</summary>
    public string Name { get; }

    /// <summary>The TorchSharp parameter (kept referenced: its storage is the optimizer's memory).</summary>
    public TorchParameter Tensor { get; }

    /// <summary>The Kernels parameter over the tensor's storage.</summary>
    public Parameter<float> Parameter { get; }

    /// <summary>The address of the values' first element as last bound.</summary>
    public nint DataAddress => _data.Address;

    /// <summary>
    /// Re-reads the addresses of the values and of the gradient and checks both. Returns the gradient tensor, which the
    /// caller holds (and disposes) until the step is done, or <see langword="null"/> when the parameter has no gradient
    /// (<see cref="Parameter.HasGrad"/> is then false: the step leaves it alone, as PyTorch does).
    /// </summary>
    /// <remarks>
    /// A parameter frozen after the optimizer was created (<c>requires_grad = false</c>) is not an error: as in PyTorch,
    /// it is stepped while it has a gradient and skipped once its gradient is null.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The tensor or its gradient no longer fits (moved to another device or type, made non-contiguous, resized).</exception>
    public Tensor? Bind()
    {
        if (Problem(Tensor) is { } problem)
            throw new InvalidOperationException($"Parameter '{Name}' {problem}");
        if (!Tensor.shape.AsSpan().SequenceEqual(_shape))
            throw new InvalidOperationException($"Parameter '{Name}' changed shape from [{string.Join(", ", _shape)}] to [{string.Join(", ", Tensor.shape)}] after the optimizer was created.");
        _data.Bind(Address(Tensor));

        Tensor? grad = Tensor.grad;
        if (grad is null)
        {
            _grad.Unbind();
            Parameter.HasGrad = false;
            return null;
        }
        try
        {
            string? gradProblem = GradProblem(grad);
            if (gradProblem is not null)
                throw new InvalidOperationException($"The gradient of parameter '{Name}' {gradProblem}");
            float* address = Address(grad);
            long bytes = (long)Parameter.Length * sizeof(float);
            if (Parameter.Length > 0 && (byte*)address < (byte*)_data.Address + bytes && (byte*)_data.Address < (byte*)address + bytes)
                throw new InvalidOperationException($"The gradient of parameter '{Name}' shares memory with its values.");
            _grad.Bind(address);
            Parameter.HasGrad = true;
            return grad;
        }
        catch
        {
            grad.Dispose();
            _grad.Unbind();
            Parameter.HasGrad = false;
            throw;
        }
    }

    /// <summary>Forgets the gradient's address once the step is done (its tensor may be freed or replaced before the next).</summary>
    public void Release()
    {
        _grad.Unbind();
        Parameter.HasGrad = false;
    }

    /// <summary>Why <paramref name="tensor"/> cannot be a parameter (a sentence after its name), or null if it can.</summary>
    private static string? Problem(Tensor tensor)
    {
        if (tensor.IsInvalid)
            return "has been disposed.";
        if (tensor.device_type != DeviceType.CPU)
            return $"is on {tensor.device_type}: Kernels.TorchSharp updates CPU tensors only.";
        if (tensor.dtype != ScalarType.Float32)
            return $"is {tensor.dtype}: Kernels.TorchSharp updates float32 tensors only.";
        if (tensor.is_sparse)
            return "is sparse: Kernels.TorchSharp updates dense tensors only.";
        if (!tensor.is_contiguous())
            return $"is not contiguous (strides [{string.Join(", ", tensor.stride())}] for shape [{string.Join(", ", tensor.shape)}]): the fused step needs one dense row-major block; pass a contiguous tensor.";
        if (tensor.numel() * sizeof(float) > int.MaxValue)
            return $"holds {tensor.numel()} elements: at most {int.MaxValue / sizeof(float)} (2 GiB) per tensor are supported.";
        return null;
    }

    /// <summary>Why <paramref name="tensor"/> should not be given to an optimizer (checked when it is given), or null.</summary>
    private static string? TrainableProblem(Tensor tensor) =>
        tensor.requires_grad ? null : "does not require grad: it would never get a gradient. Pass only trainable parameters.";

    private string? GradProblem(Tensor grad)
    {
        if (grad.device_type != DeviceType.CPU)
            return $"is on {grad.device_type}, not on the CPU.";
        if (grad.dtype != ScalarType.Float32)
            return $"is {grad.dtype}, not Float32.";
        if (grad.is_sparse)
            return "is sparse: Kernels.TorchSharp needs dense gradients.";
        if (grad.numel() != Parameter.Length)
            return $"holds {grad.numel()} elements; the parameter has {Parameter.Length}.";
        if (!grad.is_contiguous())
            return $"is not contiguous (strides [{string.Join(", ", grad.stride())}]).";
        return null;
    }

    /// <summary>The address of the tensor's first element (its storage offset included). The tensor is contiguous, CPU, float32.</summary>
    private static float* Address(Tensor tensor)
    {
        Span<byte> bytes = tensor.bytes;   // TorchSharp's view of data_ptr(), checked contiguous, at most 2 GiB
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(bytes));
    }
}

using System;
using System.Buffers;

namespace Kernels.Torch;

/// <summary>
/// <see cref="Memory{T}"/> over a tensor's native storage, of a fixed length, whose address is (re)bound before each
/// use: a <see cref="Memory{T}"/> asks its manager for the span every time, so a parameter created once follows a
/// gradient tensor that autograd reallocated. Nothing is copied and nothing is owned: the tensor keeps the storage alive
/// while the optimizer holds it (see <see cref="TensorBinding"/>).
/// </summary>
internal sealed unsafe class TensorMemory : MemoryManager<float>
{
    private readonly string _name;
    private readonly string _what;
    private readonly int _length;
    private float* _pointer;
    private bool _sealed;

    /// <param name="name">The parameter's name, for messages.</param>
    /// <param name="what">What the memory holds ("values", "gradient"), for messages.</param>
    /// <param name="length">Its length in elements.</param>
    public TensorMemory(string name, string what, int length)
    {
        _name = name;
        _what = what;
        _length = length;
    }

    /// <summary>The address bound now (null when unbound).</summary>
    public nint Address => (nint)_pointer;

    /// <summary>Points the memory at <paramref name="pointer"/> (<see cref="_length"/> elements from there).</summary>
    public void Bind(float* pointer) => _pointer = pointer;

    /// <summary>Forgets the address: reading the memory throws until the next <see cref="Bind"/>.</summary>
    public void Unbind() => _pointer = null;

    /// <summary>
    /// From now on an unbound memory throws when read. Until then it reads as a span at address 0 (never dereferenced:
    /// <see cref="Kernels.Training.Parameter{T}"/>'s constructor only compares its address with the values').
    /// </summary>
    public void Seal() => _sealed = true;

    /// <inheritdoc/>
    public override Span<float> GetSpan()
    {
        if (_pointer == null && _length > 0 && _sealed)
            throw new InvalidOperationException($"Parameter '{_name}': its {_what} is not bound (no gradient tensor for this step).");
        return new Span<float>(_pointer, _length);
    }

    /// <inheritdoc/>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > (uint)_length)
            throw new ArgumentOutOfRangeException(nameof(elementIndex));
        if (_pointer == null && _length > 0)
            throw new InvalidOperationException($"Parameter '{_name}': its {_what} is not bound (no gradient tensor for this step).");
        return new MemoryHandle(_pointer + elementIndex);   // native memory: nothing to pin
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => _pointer = null;
}

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace Kernels.Training.Checkpoints;

/// <summary>
/// One named tensor of a <see cref="SafeTensorsFile"/>: its dtype, its shape and its elements as little-endian bytes,
/// row-major.
/// </summary>
/// <remarks>
/// An entry either holds its bytes (<see cref="Data"/>; every entry a reader returns does) or is deferred: a callback
/// produces the bytes when the file is written (<see cref="SafeTensorsFile.AddDeferred"/>), so a large state buffer is
/// never copied.
/// </remarks>
public sealed class TensorEntry
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly int[] _shape;
    private readonly byte[]? _data;
    private readonly Action<Stream>? _writeData;

    internal TensorEntry(string name, TensorDType dtype, int[] shape, long byteLength, byte[]? data, Action<Stream>? writeData)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        ByteLength = byteLength;
        ElementCount = byteLength / TensorDTypes.SizeOf(dtype);
        _data = data;
        _writeData = writeData;
    }

    /// <summary>The tensor's name, its key in the file.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public TensorDType DType { get; }

    /// <summary>The dimensions, outermost first; empty for a scalar (which holds one element).</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>The number of elements: the product of <see cref="Shape"/> (1 for a scalar, 0 if any dimension is 0).</summary>
    public long ElementCount { get; }

    /// <summary>The number of bytes of the data: <see cref="ElementCount"/> times the dtype's size.</summary>
    public long ByteLength { get; }

    /// <summary>Whether the bytes are produced by a callback when the file is written (and so not readable here).</summary>
    public bool IsDeferred => _data is null;

    /// <summary>The elements as little-endian bytes, row-major.</summary>
    /// <exception cref="InvalidOperationException">The entry is deferred (<see cref="IsDeferred"/>).</exception>
    public ReadOnlyMemory<byte> Data => _data ?? throw new InvalidOperationException($"Tensor '{Name}' is deferred: its bytes are produced only when the file is written.");

    /// <summary>Copies the elements into a new array, converting from little-endian on a big-endian machine.</summary>
    /// <typeparam name="T">The dtype's .NET element type (see <see cref="TensorDTypes.IsElementType{T}"/>).</typeparam>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not an element type of <see cref="DType"/>, or the entry is deferred.</exception>
    public T[] ToArray<T>() where T : unmanaged
    {
        CheckElementType<T>();
        var result = new T[ElementCount];
        CopyTo<T>(result);
        return result;
    }

    /// <summary>Copies the elements into <paramref name="destination"/>, converting from little-endian on a big-endian machine.</summary>
    /// <typeparam name="T">The dtype's .NET element type (see <see cref="TensorDTypes.IsElementType{T}"/>).</typeparam>
    /// <param name="destination">Exactly <see cref="ElementCount"/> elements long.</param>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not an element type of <see cref="DType"/>, or the entry is deferred.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has a different length.</exception>
    public void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        CheckElementType<T>();
        ReadOnlySpan<byte> bytes = Data.Span;
        if (destination.Length != ElementCount)
            throw new ArgumentException($"Tensor '{Name}' holds {ElementCount} elements; the destination holds {destination.Length}.", nameof(destination));
        LittleEndian.ToElements(bytes, destination);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {TensorDTypes.ToSafeTensorsName(DType)} [{string.Join(", ", _shape)}]";

    private void CheckElementType<T>() where T : unmanaged
    {
        if (!TensorDTypes.IsElementType<T>(DType))
            throw new InvalidOperationException($"Tensor '{Name}' is {TensorDTypes.ToSafeTensorsName(DType)}; its elements cannot be read as {typeof(T).Name}.");
    }

    internal int[] ShapeArray => _shape;

    /// <summary>Writes the data to <paramref name="destination"/>, appending it to <paramref name="hash"/>.</summary>
    internal void WriteData(Stream destination, NonCryptographicHashAlgorithm? hash)
    {
        if (_data is not null)
        {
            destination.Write(_data);
            hash?.Append(_data);
            return;
        }
        var counted = new TensorDataStream(destination, hash, ByteLength, Name);
        _writeData!(counted);
        if (counted.Written != ByteLength)
            throw new InvalidOperationException($"The callback of deferred tensor '{Name}' wrote {counted.Written} bytes; its dtype and shape take {ByteLength}.");
    }

    /// <summary>Checks a tensor's name, dtype and shape and returns its byte length.</summary>
    internal static long CheckDeclaration(string name, TensorDType dtype, ReadOnlySpan<int> shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        CheckWellFormed(name, nameof(name));
        if (name == SafeTensorsFile.MetadataKey)
            throw new ArgumentException($"'{SafeTensorsFile.MetadataKey}' is reserved for the file's metadata.", nameof(name));
        if (!Enum.IsDefined(dtype))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a tensor dtype.");
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                throw new ArgumentOutOfRangeException(nameof(shape), $"Tensor '{name}': dimension {d} is negative.");
            count = d == 0 ? 0 : count > long.MaxValue / d ? throw new ArgumentOutOfRangeException(nameof(shape), $"Tensor '{name}': too many elements.") : count * d;
        }
        int size = TensorDTypes.SizeOf(dtype);
        if (count > long.MaxValue / size)
            throw new ArgumentOutOfRangeException(nameof(shape), $"Tensor '{name}': too many bytes.");
        return count * size;
    }

    /// <summary>Throws if <paramref name="text"/> has a lone surrogate (it would not survive a trip through UTF-8).</summary>
    internal static void CheckWellFormed(string text, string paramName)
    {
        try
        {
            s_strictUtf8.GetByteCount(text);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"'{text}' is not well-formed UTF-16 (a lone surrogate): it cannot be written as UTF-8.", paramName, e);
        }
    }

    /// <summary>A write-only view of the file that counts and hashes what a deferred tensor's callback writes.</summary>
    private sealed class TensorDataStream(Stream inner, NonCryptographicHashAlgorithm? hash, long limit, string name) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Written; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (buffer.Length > limit - Written)
                throw new InvalidOperationException($"The callback of deferred tensor '{name}' wrote more than the {limit} bytes its dtype and shape take.");
            inner.Write(buffer);
            hash?.Append(buffer);
            Written += buffer.Length;
        }
    }
}

/// <summary>Element conversions between .NET values and the format's little-endian bytes, on either kind of machine.</summary>
internal static class LittleEndian
{
    /// <summary>Writes <paramref name="values"/> as little-endian bytes.</summary>
    public static void FromElements<T>(ReadOnlySpan<T> values, Span<byte> destination) where T : unmanaged
    {
        ReadOnlySpan<byte> raw = MemoryMarshal.AsBytes(values);
        if (BitConverter.IsLittleEndian)
            raw.CopyTo(destination);
        else
            Swap(raw, destination, Size<T>());
    }

    /// <summary>Reads little-endian bytes into <paramref name="values"/>.</summary>
    public static void ToElements<T>(ReadOnlySpan<byte> source, Span<T> values) where T : unmanaged
    {
        Span<byte> raw = MemoryMarshal.AsBytes(values);
        if (BitConverter.IsLittleEndian)
            source.CopyTo(raw);
        else
            Swap(source, raw, Size<T>());
    }

    /// <summary>Reverses the bytes of every <paramref name="elementSize"/>-byte element (the big-endian machine's path).</summary>
    public static void Swap(ReadOnlySpan<byte> source, Span<byte> destination, int elementSize)
    {
        switch (elementSize)
        {
            case 1:
                source.CopyTo(destination);
                break;
            case 2:
                BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(source), MemoryMarshal.Cast<byte, ushort>(destination));
                break;
            case 4:
                BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, uint>(source), MemoryMarshal.Cast<byte, uint>(destination));
                break;
            case 8:
                BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ulong>(source), MemoryMarshal.Cast<byte, ulong>(destination));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(elementSize));
        }
    }

    private static unsafe int Size<T>() where T : unmanaged => sizeof(T);
}

using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.IO;
using System.IO.Hashing;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Kernels.Training.Checkpoints;

/// <summary>
/// The contents of one safetensors file (huggingface/safetensors): named tensors and string metadata, read and written
/// in the format Python's <c>safetensors</c> reads and writes.
/// </summary>
/// <remarks>
/// <para>
/// The format: an 8-byte little-endian header length <c>N</c>; <c>N</c> bytes of UTF-8 JSON
/// <c>{"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}</c>;
/// then the data area, where tensor <c>name</c> occupies bytes <c>[begin, end)</c> as little-endian elements, row-major.
/// </para>
/// <para>
/// <see cref="Write"/> is deterministic, as Hugging Face's writer: compact JSON with <c>__metadata__</c> first (keys in
/// ordinal order; omitted when empty), then the tensors in data order; the header padded with spaces to a multiple of
/// 8 bytes; the data area ordered by element size, largest first, then by name (ordinal UTF-8 byte order), so every
/// tensor starts at a multiple of its element size.
/// </para>
/// <para>
/// <see cref="Read(Stream)"/> validates the whole file before it returns and throws <see cref="InvalidDataException"/>
/// naming what is wrong: a header length larger than the file or than <see cref="MaxHeaderLength"/>; JSON that is
/// malformed or not of that shape; a duplicate name; a missing or unknown dtype; a negative or non-integer dimension or
/// offset; a byte count that is not shape × dtype size; offsets that overlap, leave a gap, or do not end exactly at
/// the end of the file. Unknown fields inside a tensor's entry are ignored, as by the Python reader.
/// </para>
/// </remarks>
public sealed partial class SafeTensorsFile
{
    /// <summary>The largest header the reader accepts (the Python reader's limit): 100,000,000 bytes.</summary>
    public const int MaxHeaderLength = 100_000_000;

    /// <summary>The header key under which the file's string metadata is stored (not a tensor name).</summary>
    public const string MetadataKey = "__metadata__";

    private readonly List<TensorEntry> _tensors = new();
    private readonly Dictionary<string, TensorEntry> _byName = new(StringComparer.Ordinal);

    /// <summary>Creates an empty file.</summary>
    public SafeTensorsFile()
    {
    }

    /// <summary>String metadata (the header's <c>__metadata__</c>); values must not be null.</summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The tensors, in the order they were added (for a file that was read: data order).</summary>
    public IReadOnlyList<TensorEntry> Tensors => _tensors;

    /// <summary>The number of tensors.</summary>
    public int Count => _tensors.Count;

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The file has no tensor of that name.</exception>
    public TensorEntry this[string name] =>
        _byName.TryGetValue(name, out TensorEntry? tensor) ? tensor : throw new KeyNotFoundException($"The file has no tensor named '{name}'.");

    /// <summary>Whether the file has a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Gets the tensor named <paramref name="name"/>, if there is one.</summary>
    public bool TryGetTensor(string name, [NotNullWhen(true)] out TensorEntry? tensor) => _byName.TryGetValue(name, out tensor);

    /// <summary>Removes the tensor named <paramref name="name"/>.</summary>
    /// <returns>Whether there was one.</returns>
    public bool Remove(string name)
    {
        if (!_byName.Remove(name, out TensorEntry? tensor))
            return false;
        _tensors.Remove(tensor);
        return true;
    }

    /// <summary>Adds a tensor of <typeparamref name="T"/> elements, copied (dtype <see cref="TensorDTypes.Of{T}"/>: <see cref="float"/> is F32, <see cref="double"/> F64, <see cref="long"/> I64, …).</summary>
    /// <param name="name">A name no other tensor of the file has.</param>
    /// <param name="values">The elements, row-major.</param>
    /// <param name="shape">The dimensions; their product must be the number of elements. Empty: a scalar (one element).</param>
    /// <exception cref="ArgumentException">A duplicate or reserved name, or a shape that does not match <paramref name="values"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> has no dtype of its own (<see cref="bool"/>, for example: add BOOL tensors as <see cref="byte"/> with <see cref="TensorDType.Bool"/>).</exception>
    public TensorEntry Add<T>(string name, ReadOnlySpan<T> values, ReadOnlySpan<int> shape) where T : unmanaged =>
        Add(name, TensorDTypes.Of<T>(), values, shape);

    /// <summary>Adds a tensor of <paramref name="dtype"/> from elements of <typeparamref name="T"/>, copied (for example BF16 from raw <see cref="ushort"/> bits).</summary>
    /// <param name="name">A name no other tensor of the file has.</param>
    /// <param name="dtype">The dtype; <typeparamref name="T"/> must be one of its element types (<see cref="TensorDTypes.IsElementType{T}"/>).</param>
    /// <param name="values">The elements, row-major.</param>
    /// <param name="shape">The dimensions; their product must be the number of elements. Empty: a scalar (one element).</param>
    /// <exception cref="ArgumentException">A duplicate or reserved name, a type that does not fit the dtype, or a shape that does not match <paramref name="values"/>.</exception>
    public TensorEntry Add<T>(string name, TensorDType dtype, ReadOnlySpan<T> values, ReadOnlySpan<int> shape) where T : unmanaged
    {
        long byteLength = TensorEntry.CheckDeclaration(name, dtype, shape);
        if (!TensorDTypes.IsElementType<T>(dtype))
            throw new ArgumentException($"Tensor '{name}': {typeof(T).Name} values are not {TensorDTypes.ToSafeTensorsName(dtype)} elements.", nameof(values));
        CheckCount(name, byteLength, (long)values.Length * TensorDTypes.SizeOf(dtype), nameof(values));
        var data = new byte[byteLength];
        LittleEndian.FromElements(values, data);
        return AddEntry(new TensorEntry(name, dtype, shape.ToArray(), byteLength, data, null));
    }

    /// <summary>Adds a tensor from its little-endian bytes, copied.</summary>
    /// <param name="name">A name no other tensor of the file has.</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="littleEndianBytes">The elements as little-endian bytes, row-major: shape × dtype size bytes.</param>
    /// <param name="shape">The dimensions. Empty: a scalar (one element).</param>
    /// <exception cref="ArgumentException">A duplicate or reserved name, or a byte count that is not shape × dtype size.</exception>
    public TensorEntry AddRaw(string name, TensorDType dtype, ReadOnlySpan<byte> littleEndianBytes, ReadOnlySpan<int> shape)
    {
        long byteLength = TensorEntry.CheckDeclaration(name, dtype, shape);
        CheckCount(name, byteLength, littleEndianBytes.Length, nameof(littleEndianBytes));
        return AddEntry(new TensorEntry(name, dtype, shape.ToArray(), byteLength, littleEndianBytes.ToArray(), null));
    }

    /// <summary>
    /// Adds a tensor whose bytes <paramref name="writeData"/> writes when the file is written, so that a large buffer is
    /// streamed to the file without a copy. It is called once per <see cref="Write"/>, in data order, and must write
    /// exactly shape × dtype size little-endian bytes to the stream it is given.
    /// </summary>
    /// <param name="name">A name no other tensor of the file has.</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="shape">The dimensions. Empty: a scalar (one element).</param>
    /// <param name="writeData">Writes the data; an exception it throws ends the write.</param>
    /// <exception cref="ArgumentException">A duplicate or reserved name, or a bad shape.</exception>
    public TensorEntry AddDeferred(string name, TensorDType dtype, ReadOnlySpan<int> shape, Action<Stream> writeData)
    {
        long byteLength = TensorEntry.CheckDeclaration(name, dtype, shape);
        ArgumentNullException.ThrowIfNull(writeData);
        return AddEntry(new TensorEntry(name, dtype, shape.ToArray(), byteLength, null, writeData));
    }

    /// <summary>Writes the file to <paramref name="destination"/> (see the remarks of <see cref="SafeTensorsFile"/> for the layout).</summary>
    /// <exception cref="InvalidOperationException">A metadata value is null, a key or value is not well-formed UTF-16, the header would exceed <see cref="MaxHeaderLength"/>, or a deferred tensor's callback wrote the wrong number of bytes.</exception>
    public void Write(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        WriteCore(destination, Metadata, hash: null, locateMetadataKey: null);
    }

    /// <summary>The file as bytes (see <see cref="Write"/>).</summary>
    /// <exception cref="InvalidOperationException">As <see cref="Write"/>.</exception>
    public byte[] ToArray()
    {
        var stream = new MemoryStream();
        Write(stream);
        return stream.ToArray();
    }

    /// <summary>
    /// Writes the file; appends everything written, in order, to <paramref name="hash"/>; returns the offset from the
    /// start of the write of the value (the first character inside its quotes) of metadata entry
    /// <paramref name="locateMetadataKey"/>, or -1.
    /// </summary>
    internal long WriteCore(Stream destination, ICollection<KeyValuePair<string, string>> metadata, NonCryptographicHashAlgorithm? hash, string? locateMetadataKey)
    {
        TensorEntry[] order = DataOrder();
        byte[] header = BuildHeader(order, metadata);
        long located = -1;
        if (locateMetadataKey is not null)
        {
            // Parsed with the reader's own parser: the range a reader will find is the range written.
            SafeTensorsHeader parsed = SafeTensorsHeader.Parse(header);
            if (parsed.MetadataValueRanges.TryGetValue(locateMetadataKey, out Range range))
                located = PrefixLength + range.Start.Value;
        }

        Span<byte> prefix = stackalloc byte[PrefixLength];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        destination.Write(prefix);
        destination.Write(header);
        hash?.Append(prefix);
        hash?.Append(header);
        foreach (TensorEntry tensor in order)
            tensor.WriteData(destination, hash);
        return located;
    }

    internal const int PrefixLength = 8;

    private TensorEntry AddEntry(TensorEntry tensor)
    {
        if (!_byName.TryAdd(tensor.Name, tensor))
            throw new ArgumentException($"The file already has a tensor named '{tensor.Name}'.", "name");
        _tensors.Add(tensor);
        return tensor;
    }

    private static void CheckCount(string name, long expected, long actual, string paramName)
    {
        if (expected != actual)
            throw new ArgumentException($"Tensor '{name}': its dtype and shape take {expected} bytes but {actual} were given.", paramName);
    }

    /// <summary>Element size descending, then name in ordinal UTF-8 byte order (the order of Hugging Face's writer).</summary>
    private TensorEntry[] DataOrder()
    {
        var keyed = new (TensorEntry Tensor, byte[] Utf8)[_tensors.Count];
        for (int i = 0; i < keyed.Length; i++)
            keyed[i] = (_tensors[i], Encoding.UTF8.GetBytes(_tensors[i].Name));
        Array.Sort(keyed, static (a, b) =>
        {
            int bySize = TensorDTypes.SizeOf(b.Tensor.DType).CompareTo(TensorDTypes.SizeOf(a.Tensor.DType));
            return bySize != 0 ? bySize : a.Utf8.AsSpan().SequenceCompareTo(b.Utf8);
        });
        return Array.ConvertAll(keyed, k => k.Tensor);
    }

    private static byte[] BuildHeader(TensorEntry[] order, ICollection<KeyValuePair<string, string>> metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps names readable (no \u002B for '+'); the output is plain JSON either way.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata.Count > 0)
            {
                var entries = new List<KeyValuePair<string, string>>(metadata);
                entries.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
                json.WriteStartObject(MetadataKey);
                foreach ((string key, string value) in entries)
                {
                    if (key is null || value is null)
                        throw new InvalidOperationException($"Metadata '{key}' has a null value; safetensors metadata values are strings.");
                    CheckWellFormed(key);
                    CheckWellFormed(value);
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }

            long offset = 0;
            foreach (TensorEntry tensor in order)
            {
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", TensorDTypes.ToSafeTensorsName(tensor.DType));
                json.WriteStartArray("shape");
                foreach (int d in tensor.ShapeArray)
                    json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + tensor.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += tensor.ByteLength;
            }
            json.WriteEndObject();
        }

        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        if (padded > MaxHeaderLength)
            throw new InvalidOperationException($"The header would take {padded} bytes, more than the {MaxHeaderLength} a safetensors reader accepts.");
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void CheckWellFormed(string text)
    {
        try
        {
            TensorEntry.CheckWellFormed(text, "metadata");
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException($"Metadata: {e.Message}", e);
        }
    }
}

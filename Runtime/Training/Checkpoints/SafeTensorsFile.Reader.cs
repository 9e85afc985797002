using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Hashing;
using System.Text.Json;

namespace Kernels.Training.Checkpoints;

public sealed partial class SafeTensorsFile
{
    /// <summary>Reads and validates a whole safetensors file from <paramref name="source"/> (to its end).</summary>
    /// <remarks>
    /// Each tensor's bytes are read into an array of their own, so the file may be larger than one array can hold, but
    /// no one tensor may. A seekable stream's length is checked against the header before any tensor is allocated.
    /// </remarks>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file; the message says what is wrong.</exception>
    /// <exception cref="NotSupportedException">A tensor is larger than <see cref="Array.MaxLength"/> bytes.</exception>
    public static SafeTensorsFile Read(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return ReadCore(source, onHeader: null);
    }

    /// <summary>Reads and validates a whole safetensors file held in memory (the tensors' bytes are copied).</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid safetensors file; the message says what is wrong.</exception>
    public static unsafe SafeTensorsFile Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
            return ReadCore(new MemoryStream(Array.Empty<byte>()), onHeader: null);
        fixed (byte* p = bytes)
        {
            using var stream = new UnmanagedMemoryStream(p, bytes.Length);
            return ReadCore(stream, onHeader: null);
        }
    }

    /// <summary>
    /// Reads a file. <paramref name="onHeader"/> sees the parsed, validated header before any tensor is read (it may
    /// throw) and returns a hash to which every data byte is then appended, in file order.
    /// </summary>
    internal static SafeTensorsFile ReadCore(Stream source, Func<SafeTensorsHeader, NonCryptographicHashAlgorithm?>? onHeader)
    {
        long? available = source.CanSeek ? source.Length - source.Position : null;
        if (available < PrefixLength)
            throw new InvalidDataException($"The file is {available} bytes long, shorter than the {PrefixLength}-byte header length that starts a safetensors file.");
        var prefix = new byte[PrefixLength];
        ReadExactly(source, prefix, "the header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderLength)
            throw new InvalidDataException($"The header length is {n} bytes, more than the {MaxHeaderLength} a safetensors header may have.");
        if (available is long total && (long)n > total - PrefixLength)
            throw new InvalidDataException($"The header length is {n} bytes but only {total - PrefixLength} bytes follow it: the file is truncated or the length is corrupt.");

        var headerBytes = new byte[n];
        ReadExactly(source, headerBytes, "the header");
        SafeTensorsHeader header = SafeTensorsHeader.Parse(prefix, headerBytes);
        if (available is long all)
        {
            long dataArea = all - PrefixLength - (long)n;
            if (header.DataLength > dataArea)
                throw new InvalidDataException($"The tensors take {header.DataLength} bytes but {dataArea} follow the header: the file is truncated.");
            if (header.DataLength < dataArea)
                throw new InvalidDataException($"{dataArea - header.DataLength} bytes follow the last tensor: the data offsets must cover the data area exactly.");
        }

        NonCryptographicHashAlgorithm? hash = onHeader?.Invoke(header);
        var file = new SafeTensorsFile();
        foreach ((string key, string value) in header.Metadata)
            file.Metadata.Add(key, value);
        foreach (HeaderTensor tensor in header.TensorsInDataOrder)
        {
            long length = tensor.End - tensor.Begin;
            var data = new byte[length];
            ReadExactly(source, data, $"tensor '{tensor.Name}'");
            hash?.Append(data);
            file.AddEntry(new TensorEntry(tensor.Name, tensor.DType, tensor.Shape, length, data, null));
        }
        if (available is null && source.ReadByte() != -1)
            throw new InvalidDataException("Bytes follow the last tensor: the data offsets must cover the data area exactly.");
        return file;
    }

    private static void ReadExactly(Stream source, byte[] buffer, string what)
    {
        int read = source.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read < buffer.Length)
            throw new InvalidDataException($"The file ends {buffer.Length - read} bytes short of the end of {what}: it is truncated.");
    }
}

/// <summary>One tensor's entry in a parsed header.</summary>
internal readonly record struct HeaderTensor(string Name, TensorDType DType, int[] Shape, long Begin, long End);

/// <summary>A parsed and validated safetensors header.</summary>
internal sealed class SafeTensorsHeader
{
    private static readonly JsonReaderOptions s_options = new() { CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false, MaxDepth = 16 };

    private SafeTensorsHeader(byte[] prefix, byte[] bytes)
    {
        Prefix = prefix;
        Bytes = bytes;
    }

    /// <summary>The 8 bytes of the header length.</summary>
    public byte[] Prefix { get; }

    /// <summary>The header's bytes (JSON and padding).</summary>
    public byte[] Bytes { get; }

    /// <summary>The tensors in the order of their data offsets.</summary>
    public List<HeaderTensor> TensorsInDataOrder { get; } = new();

    /// <summary>The <c>__metadata__</c> entries.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Where each metadata value's characters (inside its quotes, as written) lie in <see cref="Bytes"/>.</summary>
    public Dictionary<string, Range> MetadataValueRanges { get; } = new(StringComparer.Ordinal);

    /// <summary>The size of the data area the tensors cover.</summary>
    public long DataLength { get; private set; }

    public static SafeTensorsHeader Parse(byte[] bytes) => Parse(new byte[SafeTensorsFile.PrefixLength], bytes);

    /// <exception cref="InvalidDataException">The header is malformed or inconsistent.</exception>
    public static SafeTensorsHeader Parse(byte[] prefix, byte[] bytes)
    {
        var header = new SafeTensorsHeader(prefix, bytes);
        var tensors = new List<HeaderTensor>();
        try
        {
            header.ParseJson(tensors);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The header is not valid JSON: {e.Message}", e);
        }
        header.ValidateLayout(tensors);
        return header;
    }

    private void ParseJson(List<HeaderTensor> tensors)
    {
        var reader = new Utf8JsonReader(Bytes, s_options);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new InvalidDataException("The header is not a JSON object.");
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            string name = GetString(ref reader, "a tensor name");
            if (!names.Add(name))
                throw new InvalidDataException($"The header names '{name}' twice.");
            Next(ref reader);
            if (name == SafeTensorsFile.MetadataKey)
                ParseMetadata(ref reader);
            else
                tensors.Add(ParseTensor(ref reader, name));
        }
        // Only whitespace (the padding) may follow; anything else makes Read throw.
        if (reader.Read())
            throw new InvalidDataException("The header has content after its JSON object.");
    }

    private void ParseMetadata(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new InvalidDataException($"'{SafeTensorsFile.MetadataKey}' is not an object of strings.");
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            string key = GetString(ref reader, "a metadata key");
            if (Next(ref reader) != JsonTokenType.String)
                throw new InvalidDataException($"Metadata '{key}' is not a string.");
            int start = checked((int)reader.TokenStartIndex + 1);
            string value = GetString(ref reader, $"metadata '{key}'");
            if (!Metadata.TryAdd(key, value))
                throw new InvalidDataException($"The header's metadata names '{key}' twice.");
            MetadataValueRanges.Add(key, new Range(start, start + reader.ValueSpan.Length));
        }
    }

    private static HeaderTensor ParseTensor(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new InvalidDataException($"The entry of tensor '{name}' is not an object.");
        string? dtypeName = null;
        List<long>? shape = null, offsets = null;
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            string field = GetString(ref reader, $"a field name of tensor '{name}'");
            Next(ref reader);
            switch (field)
            {
                case "dtype":
                    if (dtypeName is not null)
                        throw new InvalidDataException($"Tensor '{name}' has two dtypes.");
                    if (reader.TokenType != JsonTokenType.String)
                        throw new InvalidDataException($"The dtype of tensor '{name}' is not a string.");
                    dtypeName = GetString(ref reader, $"the dtype of tensor '{name}'");
                    break;
                case "shape":
                    if (shape is not null)
                        throw new InvalidDataException($"Tensor '{name}' has two shapes.");
                    shape = ReadIntegers(ref reader, name, "shape");
                    break;
                case "data_offsets":
                    if (offsets is not null)
                        throw new InvalidDataException($"Tensor '{name}' has two data_offsets.");
                    offsets = ReadIntegers(ref reader, name, "data_offsets");
                    break;
                default:
                    // The Python reader ignores fields it does not know.
                    reader.Skip();
                    break;
            }
        }

        if (dtypeName is null)
            throw new InvalidDataException($"Tensor '{name}' has no dtype.");
        if (!TensorDTypes.TryParseSafeTensorsName(dtypeName, out TensorDType dtype))
            throw new InvalidDataException($"Tensor '{name}' has dtype '{dtypeName}', which is unknown (or not supported by this reader).");
        if (shape is null)
            throw new InvalidDataException($"Tensor '{name}' has no shape.");
        if (offsets is null)
            throw new InvalidDataException($"Tensor '{name}' has no data_offsets.");
        if (offsets.Count != 2)
            throw new InvalidDataException($"The data_offsets of tensor '{name}' hold {offsets.Count} numbers, not 2.");
        long begin = offsets[0], end = offsets[1];
        if (end < begin)
            throw new InvalidDataException($"The data_offsets [{begin}, {end}] of tensor '{name}' end before they begin.");

        var dims = new int[shape.Count];
        long elements = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            if (shape[i] > int.MaxValue)
                throw new InvalidDataException($"Dimension {i} of tensor '{name}' is {shape[i]}, larger than this reader supports ({int.MaxValue}).");
            dims[i] = (int)shape[i];
            if (elements != 0 && dims[i] != 0 && elements > long.MaxValue / dims[i])
                throw new InvalidDataException($"The shape of tensor '{name}' holds more elements than a 64-bit count.");
            elements *= dims[i];
        }
        int size = TensorDTypes.SizeOf(dtype);
        if (elements > long.MaxValue / size)
            throw new InvalidDataException($"The shape of tensor '{name}' holds more bytes than a 64-bit count.");
        long bytes = elements * size;
        if (end - begin != bytes)
            throw new InvalidDataException(
                $"Tensor '{name}' is {dtypeName} of shape [{string.Join(", ", dims)}], {bytes} bytes, but its data_offsets [{begin}, {end}] span {end - begin}.");
        if (bytes > Array.MaxLength)
            throw new NotSupportedException($"Tensor '{name}' holds {bytes} bytes, more than one array can hold ({Array.MaxLength}).");
        return new HeaderTensor(name, dtype, dims, begin, end);
    }

    /// <summary>The offsets must tile the data area from 0 with no gap and no overlap.</summary>
    private void ValidateLayout(List<HeaderTensor> tensors)
    {
        tensors.Sort(static (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long position = 0;
        string? previous = null;
        foreach (HeaderTensor tensor in tensors)
        {
            if (tensor.Begin < position)
                throw new InvalidDataException($"The data of tensor '{tensor.Name}' [{tensor.Begin}, {tensor.End}) overlaps that of tensor '{previous}', which ends at {position}.");
            if (tensor.Begin > position)
                throw new InvalidDataException($"Bytes [{position}, {tensor.Begin}) of the data area belong to no tensor (a gap before tensor '{tensor.Name}').");
            position = tensor.End;
            previous = tensor.Name;
            TensorsInDataOrder.Add(tensor);
        }
        DataLength = position;
    }

    private static List<long> ReadIntegers(ref Utf8JsonReader reader, string name, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new InvalidDataException($"The {field} of tensor '{name}' is not an array.");
        var values = new List<long>();
        while (Next(ref reader) != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long value) || value < 0)
                throw new InvalidDataException($"The {field} of tensor '{name}' holds something other than a non-negative integer.");
            values.Add(value);
        }
        return values;
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
            throw new InvalidDataException("The header's JSON ends early.");
        return reader.TokenType;
    }

    private static string GetString(ref Utf8JsonReader reader, string what)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"The header's text for {what} is not valid UTF-8.", e);
        }
    }
}

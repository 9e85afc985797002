using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Kernels.Training.Checkpoints;
using Xunit;

namespace Kernels.Tests.Training.Checkpoints;

/// <summary>The safetensors reader and writer: round trips, the exact bytes of the format, and every rejection.</summary>
public class SafeTensorsFileTests
{
    public static TheoryData<TensorDType> AllDTypes() => new(Enum.GetValues<TensorDType>());

    [Theory, MemberData(nameof(AllDTypes))]
    public void RoundTrip_EveryDType_KeepsDTypeShapeAndBytes(TensorDType dtype)
    {
        var random = new Random((int)dtype + 1);
        int size = TensorDTypes.SizeOf(dtype);
        byte[] bytes = new byte[2 * 3 * size];
        random.NextBytes(bytes);
        var file = new SafeTensorsFile();
        file.AddRaw("t", dtype, bytes, [2, 3]);
        file.AddRaw("scalar", dtype, bytes.AsSpan(0, size), []);
        file.AddRaw("empty", dtype, [], [4, 0]);

        SafeTensorsFile back = SafeTensorsFile.Read(file.ToArray());

        Assert.Equal(3, back.Count);
        Assert.Equal(dtype, back["t"].DType);
        Assert.Equal(new[] { 2, 3 }, back["t"].Shape);
        Assert.Equal(bytes, back["t"].Data.ToArray());
        Assert.Empty(back["scalar"].Shape);
        Assert.Equal(1, back["scalar"].ElementCount);
        Assert.Equal(bytes.AsSpan(0, size).ToArray(), back["scalar"].Data.ToArray());
        Assert.Equal(new[] { 4, 0 }, back["empty"].Shape);
        Assert.Equal(0, back["empty"].ByteLength);
    }

    [Fact]
    public void RoundTrip_TypedHelpers_GiveBackTheSameValues()
    {
        float[] floats = [1.5f, -0f, float.NaN, float.PositiveInfinity, float.Epsilon, BitConverter.Int32BitsToSingle(0x7FC12345)];
        double[] doubles = [Math.PI, -0.0, double.NegativeInfinity, double.Epsilon];
        long[] longs = [long.MinValue, -1, 0, long.MaxValue];
        Half[] halves = [(Half)1.5f, Half.NegativeZero, Half.MaxValue];
        ushort[] bf16 = [0x3F80, 0xC000, 0x7FC0];
        var file = new SafeTensorsFile();
        file.Add<float>("f", floats, [2, 3]);
        file.Add<double>("d", doubles, [4]);
        file.Add<long>("step", [7L], []);
        file.Add<long>("l", longs, [2, 2]);
        file.Add<int>("i", [int.MinValue, 1], [2]);
        file.Add<Half>("h", halves, [3]);
        file.Add<ushort>("bf", TensorDType.BFloat16, bf16, [3]);
        file.Add<byte>("u8", [0, 255], [2]);
        file.Add<sbyte>("i8", [-128, 127], [2]);
        file.Add<short>("i16", [short.MinValue], [1]);
        file.Add<uint>("u32", [uint.MaxValue], [1]);
        file.Add<ulong>("u64", [ulong.MaxValue], [1]);

        SafeTensorsFile back = SafeTensorsFile.Read(file.ToArray());

        Assert.Equal(floats.Select(BitConverter.SingleToInt32Bits), back["f"].ToArray<float>().Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(doubles.Select(BitConverter.DoubleToInt64Bits), back["d"].ToArray<double>().Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(new[] { 7L }, back["step"].ToArray<long>());
        Assert.Equal(longs, back["l"].ToArray<long>());
        Assert.Equal(new[] { int.MinValue, 1 }, back["i"].ToArray<int>());
        Assert.Equal(halves, back["h"].ToArray<Half>());
        Assert.Equal(bf16, back["bf"].ToArray<ushort>());
        Assert.Equal(TensorDType.BFloat16, back["bf"].DType);
        Assert.Equal(new byte[] { 0, 255 }, back["u8"].ToArray<byte>());
        Assert.Equal(new sbyte[] { -128, 127 }, back["i8"].ToArray<sbyte>());
        Assert.Equal(new[] { short.MinValue }, back["i16"].ToArray<short>());
        Assert.Equal(new[] { uint.MaxValue }, back["u32"].ToArray<uint>());
        Assert.Equal(new[] { ulong.MaxValue }, back["u64"].ToArray<ulong>());
    }

    [Fact]
    public void RoundTrip_EmptyFile_AndMetadata()
    {
        var file = new SafeTensorsFile();
        Assert.Empty(SafeTensorsFile.Read(file.ToArray()).Tensors);

        file.Metadata["format"] = "pt";
        file.Metadata["note"] = "ünïcödé \"quoted\" \\ back\nslash";
        SafeTensorsFile back = SafeTensorsFile.Read(file.ToArray());
        Assert.Equal(file.Metadata.OrderBy(p => p.Key), back.Metadata.OrderBy(p => p.Key));
    }

    [Fact]
    public void Write_StoresElementsLittleEndian_WhateverTheMachine()
    {
        var file = new SafeTensorsFile();
        file.Add<float>("f", [1.0f, -2.5f], [2]);
        file.Add<long>("l", [0x0102030405060708L], []);
        file.Add<Half>("h", [(Half)1.0f], [1]);
        byte[] bytes = file.ToArray();
        int data = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);

        // Data order: element size descending, then name: l (8 bytes), f (4), h (2).
        Assert.Equal(new byte[] { 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01 }, bytes[data..(data + 8)]);
        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0 }, bytes[(data + 8)..(data + 16)]);
        Assert.Equal(new byte[] { 0x00, 0x3C }, bytes[(data + 16)..]);
    }

    [Fact]
    public void Write_MatchesHuggingFaceWriter_ByteForByte()
    {
        // The expected bytes are those of the tests of huggingface/safetensors (safetensors/src/tensor.rs):
        // test_serialization, test_empty and test_serialization_forced_alignement.
        var file = new SafeTensorsFile();
        file.Add<float>("attn.0", [0, 1, 2, 3, 4, 5], [1, 2, 3]);
        byte[] expected = [.. Le(64), .. Ascii("{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}"),
            0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];
        Assert.Equal(expected, file.ToArray());

        Assert.Equal([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32], new SafeTensorsFile().ToArray());

        var withMetadata = new SafeTensorsFile();
        withMetadata.Metadata["framework"] = "pt";
        Assert.Equal([.. Le(40), .. Ascii("{\"__metadata__\":{\"framework\":\"pt\"}}     ")], withMetadata.ToArray());

        var aligned = new SafeTensorsFile();
        aligned.Add<float>("attn0", [0, 1, 2, 3, 4, 5], [1, 1, 2, 3]);
        byte[] alignedBytes = aligned.ToArray();
        Assert.Equal(72UL, BinaryPrimitives.ReadUInt64LittleEndian(alignedBytes));
        Assert.Equal("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ", Encoding.ASCII.GetString(alignedBytes, 8, 72));
    }

    [Fact]
    public void Write_IsDeterministic_WhateverTheOrderOfAdding()
    {
        var a = new SafeTensorsFile();
        a.Add<float>("b", [1], [1]);
        a.Add<byte>("a", [2], [1]);
        a.Add<double>("c", [3], [1]);
        a.Add<float>("a.float", [4], [1]);
        a.Metadata["y"] = "1";
        a.Metadata["x"] = "2";
        var b = new SafeTensorsFile();
        b.Metadata["x"] = "2";
        b.Metadata["y"] = "1";
        b.Add<float>("a.float", [4], [1]);
        b.Add<double>("c", [3], [1]);
        b.Add<byte>("a", [2], [1]);
        b.Add<float>("b", [1], [1]);

        byte[] bytes = a.ToArray();
        Assert.Equal(bytes, b.ToArray());
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes) % 8);
        // Largest elements first, then by name; every tensor aligned to its element size.
        Assert.Equal(new[] { "c", "a.float", "b", "a" }, SafeTensorsFile.Read(bytes).Tensors.Select(t => t.Name));
    }

    /// <summary>A file written by hand from the format's description, not by the writer: tensors in the header in any order, spaces and newlines, an unpadded header.</summary>
    [Fact]
    public void Read_HandWrittenGoldenFile()
    {
        string json = "{\n  \"scale\": {\"shape\": [], \"dtype\": \"F64\", \"data_offsets\": [8, 16]},\n" +
                      "  \"__metadata__\": {\"epoch\": \"3\"},\n" +
                      "  \"w\": {\"dtype\": \"F32\", \"shape\": [2, 1], \"data_offsets\": [16, 24]},\n" +
                      "  \"step\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [0, 8]},\n" +
                      "  \"mask\": {\"dtype\": \"BOOL\", \"shape\": [3], \"data_offsets\": [28, 31]},\n" +
                      "  \"bf\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [24, 28]},\n" +
                      "  \"none\": {\"dtype\": \"F32\", \"shape\": [0, 5], \"data_offsets\": [31, 31]}\n}";
        byte[] header = Encoding.UTF8.GetBytes(json);
        byte[] data =
        [
            0x2A, 0, 0, 0, 0, 0, 0, 0,                      // step: I64 42
            0, 0, 0, 0, 0, 0, 0xF8, 0x3F,                   // scale: F64 1.5
            0, 0, 0x80, 0x3F, 0, 0, 0x20, 0xC0,             // w: F32 1, -2.5
            0x80, 0x3F, 0xC0, 0x7F,                         // bf: BF16 1, NaN
            1, 0, 1,                                        // mask
        ];
        byte[] file = [(byte)header.Length, (byte)(header.Length >> 8), 0, 0, 0, 0, 0, 0, .. header, .. data];

        SafeTensorsFile read = SafeTensorsFile.Read(file);

        Assert.Equal("3", read.Metadata["epoch"]);
        Assert.Equal(new[] { 42L }, read["step"].ToArray<long>());
        Assert.Equal(new[] { 1.5 }, read["scale"].ToArray<double>());
        Assert.Empty(read["scale"].Shape);
        Assert.Equal(new[] { 1f, -2.5f }, read["w"].ToArray<float>());
        Assert.Equal(new[] { 2, 1 }, read["w"].Shape);
        Assert.Equal(new ushort[] { 0x3F80, 0x7FC0 }, read["bf"].ToArray<ushort>());
        Assert.Equal(new byte[] { 1, 0, 1 }, read["mask"].ToArray<byte>());
        Assert.Equal(0, read["none"].ElementCount);
        // Data order.
        Assert.Equal(new[] { "step", "scale", "w", "bf", "mask", "none" }, read.Tensors.Select(t => t.Name));
        // The same from a stream that cannot seek.
        Assert.Equal(6, SafeTensorsFile.Read(new ForwardOnlyStream(file)).Count);
    }

    public static TheoryData<string, string, string> MalformedHeaders() => new()
    {
        { "not JSON", "{\"a\":", "not valid JSON" },
        { "an array", "[]", "not a JSON object" },
        { "trailing comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", "not valid JSON" },
        { "text after the object", "{} x", "not valid JSON" },
        { "two objects", "{}{}", "not valid JSON" },
        { "entry not an object", "{\"a\":1}", "tensor 'a' is not an object" },
        { "missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "'a' has no dtype" },
        { "unknown dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", "'F33', which is unknown" },
        { "dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", "dtype of tensor 'a' is not a string" },
        { "missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "'a' has no shape" },
        { "missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", "'a' has no data_offsets" },
        { "negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "shape of tensor 'a' holds something other than a non-negative integer" },
        { "fractional dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", "non-negative integer" },
        { "three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "hold 3 numbers, not 2" },
        { "offsets reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", "end before they begin" },
        { "duplicate name", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", "names 'a' twice" },
        { "duplicate field", "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", "two dtypes" },
        { "duplicate metadata", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", "names 'k' twice" },
        { "metadata not a string", "{\"__metadata__\":{\"k\":1}}", "Metadata 'k' is not a string" },
        { "metadata not an object", "{\"__metadata__\":[]}", "not an object of strings" },
        { "shape x dtype size != bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "8 bytes, but its data_offsets [0, 4] span 4" },
        { "overflowing shape", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,4]}}", "more elements than a 64-bit count" },
        { "overlapping offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", "overlaps that of tensor 'a'" },
        { "gap between tensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", "belong to no tensor" },
        { "gap at the start", "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", "Bytes [0, 2)" },
        { "offsets past the file", "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", "truncated" },
        { "bytes after the last tensor", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", "2 bytes follow the last tensor" },
        { "empty header", "", "not valid JSON" },
        { "padding that is not whitespace", "{}\0\0", "not valid JSON" },
    };

    /// <summary>Each malformed header (data area: 4 bytes) is rejected with an <see cref="InvalidDataException"/> that says what is wrong.</summary>
    [Theory, MemberData(nameof(MalformedHeaders))]
    public void Read_Malformed_ThrowsInvalidDataException_SayingWhy(string what, string json, string message)
    {
        byte[] file = Build(Encoding.UTF8.GetBytes(json), new byte[4]);

        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(file));
        Assert.Contains(message, e.Message);
        Assert.NotNull(what);
    }

    [Fact]
    public void Read_HeaderNotUtf8_Throws()
    {
        byte[] header = [.. Ascii("{\"a"), 0xFF, .. Ascii("\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}")];
        Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(Build(header, [])));
    }

    [Fact]
    public void Read_HeaderLengthLargerThanTheFile_Throws()
    {
        byte[] file = Build(Ascii("{}      "), []);
        BinaryPrimitives.WriteUInt64LittleEndian(file, 9);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(file));
        Assert.Contains("header length is 9 bytes but only 8 bytes follow it", e.Message);

        // Without a length to compare with, the stream simply ends early.
        e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(new ForwardOnlyStream(file)));
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData(100_000_001UL)]
    [InlineData(1UL << 40)]
    [InlineData(ulong.MaxValue)]
    public void Read_AbsurdHeaderLength_Throws_BeforeAllocating(ulong n)
    {
        byte[] file = Build(Ascii("{}      "), []);
        BinaryPrimitives.WriteUInt64LittleEndian(file, n);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(new ForwardOnlyStream(file)));
        Assert.Contains("more than the 100000000", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void Read_ShorterThanTheLengthPrefix_Throws(int length)
    {
        Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(new byte[length]));
        Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(new ForwardOnlyStream(new byte[length])));
    }

    [Fact]
    public void Read_TruncatedAnywhere_Throws()
    {
        var file = new SafeTensorsFile();
        file.Add<float>("w", [1, 2, 3], [3]);
        file.Add<long>("step", [1], []);
        byte[] bytes = file.ToArray();
        for (int length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(bytes.AsSpan(0, length)));
            Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(new ForwardOnlyStream(bytes[..length])));
        }
        Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(new ForwardOnlyStream([.. bytes, 0])));
    }

    [Fact]
    public void Add_BadArguments_Throw()
    {
        var file = new SafeTensorsFile();
        file.Add<float>("w", [1, 2], [2]);

        Assert.Equal("name", Assert.Throws<ArgumentException>(() => file.Add<float>("w", [1], [1])).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => file.Add<float>(SafeTensorsFile.MetadataKey, [1], [1])).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => file.Add<float>("", [1], [1])).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => file.Add<float>("bad\uD800", [1], [1])).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => file.Add<float>("x", [1, 2, 3], [2])).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => file.Add<float>("x", TensorDType.Float64, [1], [1])).ParamName);
        Assert.Equal("littleEndianBytes", Assert.Throws<ArgumentException>(() => file.AddRaw("x", TensorDType.Float32, new byte[3], [1])).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentOutOfRangeException>(() => file.AddRaw("x", TensorDType.UInt8, [], [-1])).ParamName);
        Assert.Throws<InvalidOperationException>(() => file["w"].ToArray<double>());
        Assert.Throws<KeyNotFoundException>(() => file["nope"]);
        Assert.Single(file.Tensors);
    }

    [Fact]
    public void Write_NullMetadataValue_Throws()
    {
        var file = new SafeTensorsFile();
        file.Metadata["k"] = null!;
        Assert.Throws<InvalidOperationException>(() => file.ToArray());
    }

    [Fact]
    public void AddDeferred_StreamsTheCallbacksBytes_AndChecksTheirCount()
    {
        float[] state = [1, 2, 3, 4];
        var file = new SafeTensorsFile();
        TensorEntry entry = file.AddDeferred("m", TensorDType.Float32, [2, 2], s =>
        {
            Span<byte> b = stackalloc byte[4];
            foreach (float v in state)
            {
                BinaryPrimitives.WriteSingleLittleEndian(b, v);
                s.Write(b);
            }
        });
        Assert.True(entry.IsDeferred);
        Assert.Throws<InvalidOperationException>(() => entry.Data);
        Assert.Equal(state, SafeTensorsFile.Read(file.ToArray())["m"].ToArray<float>());

        var shortWrite = new SafeTensorsFile();
        shortWrite.AddDeferred("m", TensorDType.Float32, [2], s => s.Write(new byte[4]));
        Assert.Contains("wrote 4 bytes", Assert.Throws<InvalidOperationException>(() => shortWrite.ToArray()).Message);

        var longWrite = new SafeTensorsFile();
        longWrite.AddDeferred("m", TensorDType.Float32, [1], s => s.Write(new byte[8]));
        Assert.Contains("more than the 4 bytes", Assert.Throws<InvalidOperationException>(() => longWrite.ToArray()).Message);
    }

    [Fact]
    public void Remove_And_Lookup()
    {
        var file = new SafeTensorsFile();
        file.Add<int>("a", [1], [1]);
        file.Add<int>("b", [2], [1]);
        Assert.True(file.Remove("a"));
        Assert.False(file.Remove("a"));
        Assert.False(file.Contains("a"));
        Assert.True(file.TryGetTensor("b", out TensorEntry? b));
        Assert.Equal(new[] { 2 }, b.ToArray<int>());
        Assert.Equal(new[] { "b" }, SafeTensorsFile.Read(file.ToArray()).Tensors.Select(t => t.Name));
    }

    [Fact]
    public void DTypeNames_RoundTrip()
    {
        foreach (TensorDType dtype in Enum.GetValues<TensorDType>())
        {
            Assert.True(TensorDTypes.TryParseSafeTensorsName(TensorDTypes.ToSafeTensorsName(dtype), out TensorDType parsed));
            Assert.Equal(dtype, parsed);
        }
        Assert.False(TensorDTypes.TryParseSafeTensorsName("f32", out _));
    }

    internal static byte[] Le(ulong n)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, n);
        return b;
    }

    internal static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    internal static byte[] Build(byte[] header, byte[] data) => [.. Le((ulong)header.Length), .. header, .. data];

    /// <summary>A stream that can only be read forward: no length, no seeking (as a network stream).</summary>
    internal sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 3));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Kernels.Training.Checkpoints;
using Xunit;

namespace Kernels.Tests.Training.Checkpoints;

/// <summary>The crash-safe checkpoint file: atomic replacement, and every corruption reported before anything is returned.</summary>
public sealed class CheckpointFileTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("kernels-checkpoint-tests-");

    public void Dispose() => _directory.Delete(recursive: true);

    private string PathOf(string name) => Path.Combine(_directory.FullName, name);

    private static SafeTensorsFile Sample(int length = 37)
    {
        var random = new Random(length);
        var file = new SafeTensorsFile();
        file.Add<float>("layer.weight", Enumerable.Range(0, length).Select(_ => (float)random.NextDouble()).ToArray(), [length]);
        file.Add<double>("layer.exp_avg", [0.25, -1e-300], [2]);
        file.Add<long>("step", [12], []);
        file.AddRaw("bf16", TensorDType.BFloat16, [0x80, 0x3F], [1]);
        file.AddRaw("empty", TensorDType.Float32, [], [0]);
        file.Metadata["lr"] = "0.001";
        return file;
    }

    [Fact]
    public void SaveLoad_RoundTripsTensorsAndMetadata()
    {
        SafeTensorsFile file = Sample();
        string path = PathOf("model.safetensors");

        CheckpointFile.Save(path, file);
        SafeTensorsFile back = CheckpointFile.Load(path);

        Assert.Equal(file.Tensors.Select(t => t.Name).Order(), back.Tensors.Select(t => t.Name).Order());
        foreach (TensorEntry t in file.Tensors)
        {
            Assert.Equal(t.DType, back[t.Name].DType);
            Assert.Equal(t.Shape, back[t.Name].Shape);
            Assert.Equal(t.Data.ToArray(), back[t.Name].Data.ToArray());
        }
        // The caller's metadata, without the version and checksum; the caller's file is left as it was.
        Assert.Equal(new[] { KeyValuePair.Create("lr", "0.001") }, back.Metadata);
        Assert.Single(file.Metadata);
    }

    [Fact]
    public void Save_WritesAPlainSafeTensorsFile_WithVersionAndChecksumMetadata()
    {
        string path = PathOf("model.safetensors");
        CheckpointFile.Save(path, Sample());

        SafeTensorsFile plain = SafeTensorsFile.Read(File.ReadAllBytes(path));
        Assert.Equal("1", plain.Metadata[CheckpointFile.VersionKey]);
        Assert.Matches("^[0-9a-f]{16}$", plain.Metadata[CheckpointFile.ChecksumKey]);
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path)) % 8);
    }

    [Fact]
    public void Save_ReplacesTheCallersReservedKeys_AndIsDeterministic()
    {
        SafeTensorsFile file = Sample();
        file.Metadata[CheckpointFile.VersionKey] = "99";
        file.Metadata[CheckpointFile.ChecksumKey] = "nonsense";
        CheckpointFile.Save(PathOf("a"), file);
        CheckpointFile.Save(PathOf("b"), Sample());

        Assert.Equal(File.ReadAllBytes(PathOf("a")), File.ReadAllBytes(PathOf("b")));
        CheckpointFile.Load(PathOf("a"));
    }

    [Fact]
    public void Save_OverwritesAnExistingCheckpoint()
    {
        string path = PathOf("model.safetensors");
        CheckpointFile.Save(path, Sample(5));
        CheckpointFile.Save(path, Sample(9));

        Assert.Equal(9, CheckpointFile.Load(path)["layer.weight"].ElementCount);
        Assert.Equal(new[] { path }, Directory.GetFiles(_directory.FullName));
    }

    /// <summary>Any single bit flipped anywhere in the file — length, header, padding, checksum, data — is reported.</summary>
    [Fact]
    public void Load_EverySingleBitFlip_IsDetected()
    {
        string good = PathOf("good.safetensors"), bad = PathOf("bad.safetensors");
        CheckpointFile.Save(good, Sample());
        byte[] bytes = File.ReadAllBytes(good);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.True(bytes.Length - headerEnd > 100, "the sweep covers the data area too");

        // Every bit through the stream overload (the same code as a file), and every 97th through a real file.
        var missed = new List<int>();
        for (int bit = 0; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
            try
            {
                if (bit % 97 == 0)
                {
                    File.WriteAllBytes(bad, bytes);
                    CheckpointFile.Load(bad);
                }
                else
                {
                    CheckpointFile.Load(new MemoryStream(bytes, writable: false));
                }
                missed.Add(bit);
            }
            catch (InvalidDataException)
            {
            }
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
        }

        Assert.Empty(missed);
        CheckpointFile.Load(good);
        CheckpointFile.Load(new MemoryStream(bytes));
    }

    [Fact]
    public void Load_BitFlipsInALargeFile_AreDetected()
    {
        var file = new SafeTensorsFile();
        file.Add<float>("big", Enumerable.Range(0, 1 << 16).Select(i => i * 0.5f).ToArray(), [256, 256]);
        string good = PathOf("good"), bad = PathOf("bad");
        CheckpointFile.Save(good, file);
        byte[] bytes = File.ReadAllBytes(good);
        var random = new Random(1);
        for (int trial = 0; trial < 200; trial++)
        {
            int bit = trial < 100 ? random.Next(bytes.Length * 8) : (bytes.Length - 1 - random.Next(64)) * 8 + random.Next(8);
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
            File.WriteAllBytes(bad, bytes);
            Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(bad));
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
        }
    }

    [Fact]
    public void Load_TruncatedAtAnyLength_Throws()
    {
        string good = PathOf("good"), bad = PathOf("bad");
        CheckpointFile.Save(good, Sample(3));
        byte[] bytes = File.ReadAllBytes(good);
        for (int length = 0; length < bytes.Length; length++)
        {
            File.WriteAllBytes(bad, bytes[..length]);
            var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(bad));
            Assert.Contains(bad, e.Message);
        }
        File.WriteAllBytes(bad, [.. bytes, 0]);
        Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(bad));
    }

    [Fact]
    public void Load_CorruptedData_ReportsTheChecksum()
    {
        string path = PathOf("model");
        CheckpointFile.Save(path, Sample());
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(path));
        Assert.Contains("checksum does not match", e.Message);
    }

    [Fact]
    public void Load_OtherFormatVersion_Throws()
    {
        string path = PathOf("model");
        CheckpointFile.Save(path, Sample());
        byte[] bytes = File.ReadAllBytes(path);
        ReplaceOnce(bytes, $"\"{CheckpointFile.VersionKey}\":\"1\"", $"\"{CheckpointFile.VersionKey}\":\"2\"");
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(path));
        Assert.Contains("format version is '2'; this reader supports version 1", e.Message);
    }

    [Fact]
    public void Load_PlainSafeTensorsWithoutVersionOrChecksum_Throws()
    {
        string path = PathOf("plain");
        File.WriteAllBytes(path, Sample().ToArray());
        Assert.Contains("no format version", Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(path)).Message);

        SafeTensorsFile versionOnly = Sample();
        versionOnly.Metadata[CheckpointFile.VersionKey] = "1";
        File.WriteAllBytes(path, versionOnly.ToArray());
        Assert.Contains("no checksum", Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(path)).Message);

        versionOnly.Metadata[CheckpointFile.ChecksumKey] = "0123";
        File.WriteAllBytes(path, versionOnly.ToArray());
        Assert.Contains("not 16 hex digits", Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(path)).Message);
    }

    /// <summary>A tensor whose bytes cannot be produced (it throws halfway) leaves the previous checkpoint intact and no temporary file.</summary>
    [Fact]
    public void Save_FailingMidWrite_LeavesTheOldFileIntact_AndNoTemporaryFile()
    {
        string path = PathOf("model.safetensors");
        CheckpointFile.Save(path, Sample());
        byte[] before = File.ReadAllBytes(path);

        SafeTensorsFile failing = Sample();
        failing.AddDeferred("exp_avg_sq", TensorDType.Float32, [1 << 20], stream =>
        {
            stream.Write(new byte[1 << 21]); // half of it, past the stream's buffer: bytes reach the temporary file
            throw new IOException("device lost");
        });
        var e = Assert.Throws<IOException>(() => CheckpointFile.Save(path, failing));

        Assert.Equal("device lost", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_directory.FullName));
        CheckpointFile.Load(path);
    }

    [Fact]
    public void Save_FailingWhenNoFileExisted_LeavesNothing()
    {
        SafeTensorsFile failing = new();
        failing.AddDeferred("x", TensorDType.UInt8, [8], _ => throw new InvalidOperationException("no data"));
        Assert.Throws<InvalidOperationException>(() => CheckpointFile.Save(PathOf("new"), failing));
        Assert.Empty(Directory.GetFiles(_directory.FullName));
    }

    [Fact]
    public void Load_MissingFile_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => CheckpointFile.Load(PathOf("absent")));
    }

    private static void ReplaceOnce(byte[] bytes, string from, string to)
    {
        byte[] f = Encoding.ASCII.GetBytes(from), t = Encoding.ASCII.GetBytes(to);
        Assert.Equal(f.Length, t.Length);
        int at = bytes.AsSpan().IndexOf(f);
        Assert.True(at >= 0, $"'{from}' not found");
        Assert.Equal(-1, bytes.AsSpan(at + 1).IndexOf(f));
        t.CopyTo(bytes, at);
    }
}

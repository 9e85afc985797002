using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Hashing;
using System.Text;

namespace Kernels.Training.Checkpoints;

/// <summary>
/// A crash-safe, self-checking checkpoint: a safetensors file (still readable by Python's <c>safetensors</c>) with a
/// format version and a checksum in its metadata, written so that a crash leaves either the old file or the new one.
/// </summary>
/// <remarks>
/// <para>
/// <b>Saving.</b> <see cref="Save"/> writes to a temporary file in the target's directory, flushes it to the disk, and
/// renames it over the target (an atomic replace on the same file system). If anything fails before the rename — a
/// deferred tensor's callback throws, the disk is full — the temporary file is deleted and the target is untouched.
/// The directory entry itself is not flushed, so after a power loss the rename may not have happened; the target is
/// then the old file, intact.
/// </para>
/// <para>
/// <b>The checksum</b> is CRC-64 (ECMA-182, as <see cref="Crc64"/> computes it) of every byte of the file — the header
/// length, the header and the data — with the 16 hex digits of the checksum itself read as <c>'0'</c>, stored as 16
/// lowercase hex digits under <see cref="ChecksumKey"/>. A CRC rather than a cryptographic hash: it guards against
/// accidents (torn writes, bad sectors, bit rot, a truncated copy), not against an adversary, and a 64-bit CRC
/// <i>guarantees</i> to detect every single-bit error and every burst of up to 64 bits (a hash such as XxHash3 or
/// SHA-256 detects them only with overwhelming probability), while any other corruption goes unnoticed with
/// probability about 2^-64. <see cref="Crc64"/> is vectorized (carry-less multiply): several GB/s, far above disk
/// speed; SHA-256 would be several times slower and brings nothing against accidents.
/// </para>
/// <para>
/// <b>Loading.</b> <see cref="Load(string)"/> reads the whole file and checks the structure (as <see cref="SafeTensorsFile.Read(Stream)"/>),
/// the version and the checksum before it returns, so a caller can validate a checkpoint fully before it touches its
/// own state. Every single-bit flip anywhere in the file is reported.
/// </para>
/// </remarks>
public static class CheckpointFile
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>The metadata key of the format version (a decimal string).</summary>
    public const string VersionKey = "kernels.checkpoint.version";

    /// <summary>The metadata key of the checksum (16 lowercase hex digits of a CRC-64/ECMA-182).</summary>
    public const string ChecksumKey = "kernels.checkpoint.crc64";

    private const int ChecksumDigits = 16;

    /// <summary>Writes <paramref name="contents"/> to <paramref name="path"/> atomically (see the remarks of <see cref="CheckpointFile"/>).</summary>
    /// <param name="path">The checkpoint file; replaced if it exists. Its directory must exist.</param>
    /// <param name="contents">
    /// The tensors and metadata. Its own <see cref="VersionKey"/> and <see cref="ChecksumKey"/> entries, if any, are
    /// replaced; it is not modified.
    /// </param>
    /// <exception cref="InvalidOperationException">As <see cref="SafeTensorsFile.Write"/>; the target is untouched.</exception>
    /// <exception cref="IOException">The file system failed; the target is untouched.</exception>
    public static void Save(string path, SafeTensorsFile contents)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(contents);
        string target = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{path}' names no file.", nameof(path));
        string temporary = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");

        var metadata = new Dictionary<string, string>(contents.Metadata, StringComparer.Ordinal)
        {
            [VersionKey] = FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [ChecksumKey] = new string('0', ChecksumDigits),
        };
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                var crc = new Crc64();
                long checksumAt = contents.WriteCore(stream, metadata, crc, ChecksumKey);
                // The placeholder was hashed as written ('0' digits), which is how Load reads it back.
                stream.Position = checksumAt;
                stream.Write(Encoding.ASCII.GetBytes(Hex(crc)));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Reads and fully validates the checkpoint at <paramref name="path"/>: structure, version and checksum.</summary>
    /// <returns>The tensors and the metadata, without the <see cref="VersionKey"/> and <see cref="ChecksumKey"/> entries.</returns>
    /// <exception cref="InvalidDataException">The file is truncated, corrupt, not a checkpoint, or of another format version; the message names the file and the fault.</exception>
    /// <exception cref="IOException">The file cannot be read (for example <see cref="FileNotFoundException"/>).</exception>
    public static SafeTensorsFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        return LoadCore(stream, $"Checkpoint '{path}'");
    }

    /// <summary>Reads and fully validates a checkpoint from <paramref name="source"/> (to its end): structure, version and checksum.</summary>
    /// <returns>The tensors and the metadata, without the <see cref="VersionKey"/> and <see cref="ChecksumKey"/> entries.</returns>
    /// <exception cref="InvalidDataException">The checkpoint is truncated, corrupt, not a checkpoint, or of another format version; the message says which.</exception>
    public static SafeTensorsFile Load(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return LoadCore(source, "Checkpoint");
    }

    private static SafeTensorsFile LoadCore(Stream stream, string what)
    {
        Crc64? crc = null;
        string? stored = null;
        SafeTensorsFile file;
        try
        {
            file = SafeTensorsFile.ReadCore(stream, header =>
            {
                CheckVersion(header.Metadata);
                if (!header.Metadata.TryGetValue(ChecksumKey, out stored))
                    throw new InvalidDataException($"The metadata has no checksum ('{ChecksumKey}'): not a checkpoint written by {nameof(CheckpointFile)}, or its header is corrupt.");
                Range range = header.MetadataValueRanges[ChecksumKey];
                if (range.End.Value - range.Start.Value != ChecksumDigits)
                    throw new InvalidDataException($"The checksum '{stored}' is not {ChecksumDigits} hex digits.");
                crc = new Crc64();
                crc.Append(header.Prefix);
                byte[] blanked = (byte[])header.Bytes.Clone();
                blanked.AsSpan(range).Fill((byte)'0');
                crc.Append(blanked);
                return crc;
            });
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{what}: {e.Message}", e);
        }

        string actual = Hex(crc!);
        if (!string.Equals(stored, actual, StringComparison.Ordinal))
            throw new InvalidDataException($"{what}: the checksum does not match (stored {stored}, contents {actual}): the file is corrupt.");
        file.Metadata.Remove(VersionKey);
        file.Metadata.Remove(ChecksumKey);
        return file;
    }

    private static void CheckVersion(Dictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(VersionKey, out string? version))
            throw new InvalidDataException($"The metadata has no format version ('{VersionKey}'): not a checkpoint written by {nameof(CheckpointFile)}, or its header is corrupt.");
        string expected = FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (version != expected)
            throw new InvalidDataException($"The checkpoint's format version is '{version}'; this reader supports version {expected}.");
    }

    private static string Hex(Crc64 crc) => crc.GetCurrentHashAsUInt64().ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original exception matters more; a leftover temporary file is harmless (it is never the target).
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

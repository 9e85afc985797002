using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kernels.Precision;

/// <summary>
/// Random bits keyed by (seed, step, element index), for stochastic rounding: the bits of an element depend on nothing
/// else — not on the thread count, the chunking, the vector width or the device — so a run is reproducible everywhere.
/// </summary>
/// <remarks>
/// <para>
/// Every call of <see cref="Philox4x32"/> gives 128 bits, and an element needs 16, so one call serves eight elements.
/// The elements are taken in groups of <see cref="GroupSize"/> = 128: group <c>g = index / 128</c> runs the generator on
/// the sixteen counters <c>c = 16g + lane</c>, <c>lane</c> = 0…15, as <c>(c low 32, c high 32, step low 32, step high 32)</c>
/// under the key <c>(seed low 32, seed high 32)</c>. Element <c>r = index % 128</c> of the group takes, from the generator
/// of lane <c>r % 16</c>, output word <c>(r / 16) % 4</c>, its low half for <c>r &lt; 64</c> and its high half otherwise.
/// </para>
/// <para>
/// The layout is the vector one: sixteen consecutive elements of a group come from the same word of the sixteen
/// generators, so a Vector512 Philox fills a group with four narrowing stores and no shuffles, and a Vector256 or
/// Vector128 one fills it in two or four runs. <see cref="Bits16"/> computes a single element's bits from the definition
/// (one generator call, used by the scalar tails and the GPU kernels); <see cref="Fill"/> fills a run of elements a group
/// at a time. Use a different seed for each tensor (the counter covers step and index only).
/// </para>
/// </remarks>
public static class RandomStream
{
    /// <summary>The elements that share the sixteen generator calls of one group (8 per call).</summary>
    public const int GroupSize = 128;

    /// <summary>16 random bits for element <paramref name="index"/> of step <paramref name="step"/> under <paramref name="seed"/>.</summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="index">The element index.</param>
    /// <returns>A value in 0…65535 (see the remarks for which generator bits).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bits16(ulong seed, ulong step, ulong index)
    {
        ulong counter = (index >> 7 << 4) | (index & 15);
        (uint x0, uint x1, uint x2, uint x3) = Philox4x32.Generate(
            (uint)counter, (uint)(counter >> 32), (uint)step, (uint)(step >> 32), (uint)seed, (uint)(seed >> 32));
        uint word = ((index >> 4) & 3) switch
        {
            0 => x0,
            1 => x1,
            2 => x2,
            _ => x3,
        };
        return (index & 64) == 0 ? word & 0xFFFF : word >> 16;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with the bits of elements <paramref name="firstIndex"/>,
    /// <paramref name="firstIndex"/> + 1, …: <c>destination[i] = Bits16(seed, step, firstIndex + i)</c> (the index wrapping
    /// as <see cref="ulong"/> arithmetic does), one generator call per eight elements.
    /// </summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="firstIndex">The index of <c>destination[0]</c>.</param>
    /// <param name="destination">Where the bits go.</param>
    public static void Fill(ulong seed, ulong step, ulong firstIndex, Span<ushort> destination)
    {
        Span<ushort> group = stackalloc ushort[GroupSize];
        int written = 0;
        while (written < destination.Length)
        {
            ulong index = unchecked(firstIndex + (ulong)written);
            int offset = (int)(index % GroupSize);
            int count = Math.Min(GroupSize - offset, destination.Length - written);
            if (offset == 0 && count == GroupSize)
                FillGroup(seed, step, index / GroupSize, ref destination[written]);
            else
            {
                FillGroup(seed, step, index / GroupSize, ref MemoryMarshal.GetReference(group));
                group.Slice(offset, count).CopyTo(destination.Slice(written));
            }
            written += count;
        }
    }

    /// <summary>
    /// The bits of the <see cref="GroupSize"/> elements of group <paramref name="group"/> (elements <c>128 · group</c> …),
    /// in element order, at <paramref name="destination"/>.
    /// </summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="group">The group: an element index divided by 128 (below 2^57).</param>
    /// <param name="destination">The first of 128 values.</param>
    internal static void FillGroup(ulong seed, ulong step, ulong group, ref ushort destination)
    {
        // Counter 16·group + lane: the lane never carries out of the low four bits.
        uint low = (uint)(group << 4), high = (uint)(group >> 28), k0 = (uint)seed, k1 = (uint)(seed >> 32);
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<uint> x0 = Vector512.Create(low) | Vector512<uint>.Indices, x1 = Vector512.Create(high);
            Vector512<uint> x2 = Vector512.Create((uint)step), x3 = Vector512.Create((uint)(step >> 32));
            Philox4x32.Generate(ref x0, ref x1, ref x2, ref x3, k0, k1);
            // Elements 0–63: the low halves of words 0–3; 64–127: the high halves.
            Vector512.Narrow(x0, x1).StoreUnsafe(ref destination, 0);
            Vector512.Narrow(x2, x3).StoreUnsafe(ref destination, 32);
            Vector512.Narrow(x0 >> 16, x1 >> 16).StoreUnsafe(ref destination, 64);
            Vector512.Narrow(x2 >> 16, x3 >> 16).StoreUnsafe(ref destination, 96);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (int half = 0; half < 2; half++)
            {
                // Lanes 8·half … 8·half + 7 of the group's sixteen generators: elements 16w + 8·half + j.
                Vector256<uint> x0 = Vector256.Create(low | (uint)(8 * half)) | Vector256<uint>.Indices, x1 = Vector256.Create(high);
                Vector256<uint> x2 = Vector256.Create((uint)step), x3 = Vector256.Create((uint)(step >> 32));
                Philox4x32.Generate(ref x0, ref x1, ref x2, ref x3, k0, k1);
                nuint at = (nuint)(8 * half);
                Vector128.Narrow(x0.GetLower(), x0.GetUpper()).StoreUnsafe(ref destination, at);
                Vector128.Narrow(x1.GetLower(), x1.GetUpper()).StoreUnsafe(ref destination, at + 16);
                Vector128.Narrow(x2.GetLower(), x2.GetUpper()).StoreUnsafe(ref destination, at + 32);
                Vector128.Narrow(x3.GetLower(), x3.GetUpper()).StoreUnsafe(ref destination, at + 48);
                x0 >>= 16; x1 >>= 16; x2 >>= 16; x3 >>= 16;
                Vector128.Narrow(x0.GetLower(), x0.GetUpper()).StoreUnsafe(ref destination, at + 64);
                Vector128.Narrow(x1.GetLower(), x1.GetUpper()).StoreUnsafe(ref destination, at + 80);
                Vector128.Narrow(x2.GetLower(), x2.GetUpper()).StoreUnsafe(ref destination, at + 96);
                Vector128.Narrow(x3.GetLower(), x3.GetUpper()).StoreUnsafe(ref destination, at + 112);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (int quarter = 0; quarter < 4; quarter++)
            {
                Vector128<uint> x0 = Vector128.Create(low | (uint)(4 * quarter)) | Vector128<uint>.Indices, x1 = Vector128.Create(high);
                Vector128<uint> x2 = Vector128.Create((uint)step), x3 = Vector128.Create((uint)(step >> 32));
                Philox4x32.Generate(ref x0, ref x1, ref x2, ref x3, k0, k1);
                Span<Vector128<uint>> words = [x0, x1, x2, x3];
                for (int w = 0; w < 8; w++)
                {
                    Vector128<uint> word = w < 4 ? words[w] : words[w - 4] >> 16;
                    ref ushort at = ref Unsafe.Add(ref destination, 16 * w + 4 * quarter);
                    for (int j = 0; j < 4; j++)
                        Unsafe.Add(ref at, j) = (ushort)word.GetElement(j);
                }
            }
        }
        else
        {
            for (int lane = 0; lane < 16; lane++)
            {
                (uint x0, uint x1, uint x2, uint x3) = Philox4x32.Generate(low | (uint)lane, high, (uint)step, (uint)(step >> 32), k0, k1);
                ReadOnlySpan<uint> words = [x0, x1, x2, x3];
                for (int w = 0; w < 4; w++)
                {
                    Unsafe.Add(ref destination, 16 * w + lane) = (ushort)words[w];
                    Unsafe.Add(ref destination, 64 + 16 * w + lane) = (ushort)(words[w] >> 16);
                }
            }
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels.Precision;

/// <summary>
/// Random bits keyed by (seed, step, element index), for stochastic rounding: the bits of an element depend on nothing
/// else — not on the thread count, the chunking, the vector width or the device — so a run is reproducible everywhere.
/// </summary>
/// <remarks>
/// <para>
/// Element <c>index</c> of step <c>step</c> under <c>seed</c> gets word 0 of <see cref="Philox4x32"/> with counter
/// <c>(index low 32, index high 32, step low 32, step high 32)</c> and key <c>(seed low 32, seed high 32)</c>:
/// <see cref="Bits32"/> is that word, <see cref="Bits16"/> its high 16 bits. One generator call per element; the other
/// three output words are not used, so that any lane of any vector can be computed on its own.
/// </para>
/// <para>
/// The vector forms cover consecutive indices: lane <c>j</c> of <c>Bits16x16(seed, step, first)</c> is
/// <c>Bits16(seed, step, first + j)</c>, with the 64-bit index wrapping as <see cref="ulong"/> arithmetic does.
/// Use a different seed for each tensor (the counter covers step and index only).
/// </para>
/// </remarks>
public static class RandomStream
{
    /// <summary>32 random bits for element <paramref name="index"/> of step <paramref name="step"/> under <paramref name="seed"/>.</summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="index">The element index.</param>
    /// <returns>Word 0 of Philox4x32-10 (see the remarks).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bits32(ulong seed, ulong step, ulong index) =>
        Philox4x32.Generate((uint)index, (uint)(index >> 32), (uint)step, (uint)(step >> 32), (uint)seed, (uint)(seed >> 32)).X0;

    /// <summary>16 random bits (the high half of <see cref="Bits32"/>), in the low 16 bits of the result.</summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="index">The element index.</param>
    /// <returns>A value in 0…65535.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bits16(ulong seed, ulong step, ulong index) => Bits32(seed, step, index) >> 16;

    /// <summary><see cref="Bits32"/> for indices <paramref name="firstIndex"/> … <paramref name="firstIndex"/> + 3, one per lane.</summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="firstIndex">The index of lane 0.</param>
    /// <returns>Four words.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Bits32x4(ulong seed, ulong step, ulong firstIndex)
    {
        Vector128<uint> low = Vector128.Create((uint)firstIndex) + Vector128<uint>.Indices;
        // A lane whose low word wrapped past 2^32 carries one into the high word (the mask is -1 there).
        Vector128<uint> high = Vector128.Create((uint)(firstIndex >> 32)) - Vector128.LessThan(low, Vector128.Create((uint)firstIndex));
        Vector128<uint> stepLow = Vector128.Create((uint)step), stepHigh = Vector128.Create((uint)(step >> 32));
        Philox4x32.Generate(ref low, ref high, ref stepLow, ref stepHigh, (uint)seed, (uint)(seed >> 32));
        return low;
    }

    /// <summary><see cref="Bits16"/> for indices <paramref name="firstIndex"/> … <paramref name="firstIndex"/> + 3, one per lane.</summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="firstIndex">The index of lane 0.</param>
    /// <returns>Four values in 0…65535.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Bits16x4(ulong seed, ulong step, ulong firstIndex) => Bits32x4(seed, step, firstIndex) >> 16;

    /// <summary><see cref="Bits32"/> for indices <paramref name="firstIndex"/> … <paramref name="firstIndex"/> + 7, one per lane.</summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="firstIndex">The index of lane 0.</param>
    /// <returns>Eight words.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Bits32x8(ulong seed, ulong step, ulong firstIndex)
    {
        Vector256<uint> low = Vector256.Create((uint)firstIndex) + Vector256<uint>.Indices;
        Vector256<uint> high = Vector256.Create((uint)(firstIndex >> 32)) - Vector256.LessThan(low, Vector256.Create((uint)firstIndex));
        Vector256<uint> stepLow = Vector256.Create((uint)step), stepHigh = Vector256.Create((uint)(step >> 32));
        Philox4x32.Generate(ref low, ref high, ref stepLow, ref stepHigh, (uint)seed, (uint)(seed >> 32));
        return low;
    }

    /// <summary><see cref="Bits16"/> for indices <paramref name="firstIndex"/> … <paramref name="firstIndex"/> + 7, one per lane.</summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="firstIndex">The index of lane 0.</param>
    /// <returns>Eight values in 0…65535.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Bits16x8(ulong seed, ulong step, ulong firstIndex) => Bits32x8(seed, step, firstIndex) >> 16;

    /// <summary><see cref="Bits32"/> for indices <paramref name="firstIndex"/> … <paramref name="firstIndex"/> + 15, one per lane.</summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="firstIndex">The index of lane 0.</param>
    /// <returns>Sixteen words.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> Bits32x16(ulong seed, ulong step, ulong firstIndex)
    {
        Vector512<uint> low = Vector512.Create((uint)firstIndex) + Vector512<uint>.Indices;
        Vector512<uint> high = Vector512.Create((uint)(firstIndex >> 32)) - Vector512.LessThan(low, Vector512.Create((uint)firstIndex));
        Vector512<uint> stepLow = Vector512.Create((uint)step), stepHigh = Vector512.Create((uint)(step >> 32));
        Philox4x32.Generate(ref low, ref high, ref stepLow, ref stepHigh, (uint)seed, (uint)(seed >> 32));
        return low;
    }

    /// <summary><see cref="Bits16"/> for indices <paramref name="firstIndex"/> … <paramref name="firstIndex"/> + 15, one per lane.</summary>
    /// <param name="seed">The stream's key.</param>
    /// <param name="step">The step counter.</param>
    /// <param name="firstIndex">The index of lane 0.</param>
    /// <returns>Sixteen values in 0…65535.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> Bits16x16(ulong seed, ulong step, ulong firstIndex) => Bits32x16(seed, step, firstIndex) >> 16;
}

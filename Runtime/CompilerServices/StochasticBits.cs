using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Kernels.Precision;

namespace Kernels.CompilerServices;

/// <summary>
/// The random bits of a stochastically rounding loop, filled a <see cref="RandomStream.GroupSize"/>-element group at a
/// time: one Philox call serves eight elements instead of one. A loop keeps one of these on its stack and asks it, per
/// vector, for the bits of the elements it stores; the bits are <see cref="RandomStream.Bits16"/> of
/// <c>Rounding.FirstIndex + index</c>, whatever the vector width or the order of the requests.
/// </summary>
/// <remarks>
/// <para>
/// It holds two groups, in slots chosen by the group's parity, so that a vector that straddles two groups (a chunk or a
/// tensor that does not start on a multiple of 128) reads one contiguous run: the window is 256 entries plus a copy of
/// its first sixteen after its end, and element <c>i</c> sits at <c>i % 256</c>. A loop that walks forward fills each
/// group once.
/// </para>
/// <para>Used by generated code; not meant to be called by hand.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct StochasticBits
{
    private const int Window = 2 * RandomStream.GroupSize;

    // Wider than any vector a loop stores (16 lanes), so a run that wraps the window end reads the copy.
    private const int Mirror = 16;

    private readonly ulong _seed;
    private readonly ulong _step;
    private readonly ulong _firstIndex;
    // The group in slot 0 and in slot 1, plus one: 0 is an empty slot (so default is empty; group ids stay below 2^57).
    private ulong _even;
    private ulong _odd;
    private Bits _bits;

    [InlineArray(Window + Mirror)]
    private struct Bits
    {
        private ushort _element;
    }

    /// <summary>The bits of <paramref name="rounding"/>'s stream from its <see cref="StochasticRounding.FirstIndex"/> on.</summary>
    /// <param name="rounding">The step's rounding.</param>
    public StochasticBits(in StochasticRounding rounding)
    {
        _seed = rounding.Seed;
        _step = rounding.Step;
        _firstIndex = rounding.FirstIndex;
    }

    /// <summary>
    /// The bits of elements <paramref name="index"/> … <paramref name="index"/> + <paramref name="count"/> − 1 (relative to
    /// the first index), as <paramref name="count"/> consecutive values from the returned reference.
    /// </summary>
    /// <param name="index">The first element, counted from <see cref="StochasticRounding.FirstIndex"/>.</param>
    /// <param name="count">How many elements: 1 to 16.</param>
    /// <returns>The first value; valid until the next call.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [UnscopedRef]
    public ref ushort At(nuint index, int count)
    {
        ulong element = unchecked(_firstIndex + index);
        ulong first = element / RandomStream.GroupSize, last = unchecked(element + (ulong)(count - 1)) / RandomStream.GroupSize;
        if (Slot(first) != first + 1 || Slot(last) != last + 1)
            Fill(first, last);
        return ref Unsafe.Add(ref _bits[0], (int)(element % Window));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly ulong Slot(ulong group) => (group & 1) == 0 ? _even : _odd;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Fill(ulong first, ulong last)
    {
        if (Slot(first) != first + 1)
            FillGroup(first);
        if (Slot(last) != last + 1)
            FillGroup(last);
    }

    private void FillGroup(ulong group)
    {
        ref ushort window = ref _bits[0];
        if ((group & 1) == 0)
        {
            RandomStream.FillGroup(_seed, _step, group, ref window);
            for (int i = 0; i < Mirror; i++)
                Unsafe.Add(ref window, Window + i) = Unsafe.Add(ref window, i);
            _even = group + 1;
        }
        else
        {
            RandomStream.FillGroup(_seed, _step, group, ref Unsafe.Add(ref window, RandomStream.GroupSize));
            _odd = group + 1;
        }
    }
}

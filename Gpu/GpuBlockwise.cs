using System;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Kernels.Precision;

namespace Kernels.Gpu;

/// <summary>
/// One 8-bit blockwise-quantized state buffer on the device (docs/Precision.md, "8-bit blockwise quantization"): a code
/// per element, an absmax per block of <see cref="BlockwiseQuantizer.BlockSize"/>, and the quantizer whose map the codes
/// index (<see cref="BlockwiseQuantizer.Signed"/> for first moments, <see cref="BlockwiseQuantizer.Unsigned"/> for
/// <c>[NonNegative]</c> second moments, as the optimizer objects choose).
/// </summary>
public readonly struct GpuQuantizedState
{
    /// <summary>A quantized buffer.</summary>
    /// <param name="codes">One code per element.</param>
    /// <param name="absMax">One absmax per block: <c>ceil(codes.Length / 256)</c> values.</param>
    /// <param name="quantizer">The map's quantizer.</param>
    public GpuQuantizedState(ArrayView<byte> codes, ArrayView<float> absMax, BlockwiseQuantizer quantizer)
    {
        Codes = codes;
        AbsMax = absMax;
        Quantizer = quantizer ?? throw new ArgumentNullException(nameof(quantizer));
    }

    /// <summary>One code per element.</summary>
    public ArrayView<byte> Codes { get; }

    /// <summary>One absmax per block of 256 elements.</summary>
    public ArrayView<float> AbsMax { get; }

    /// <summary>The quantizer whose map the codes index.</summary>
    public BlockwiseQuantizer Quantizer { get; }
}

/// <summary>
/// The update of one chunk of a <see cref="GpuBlockwise.Step"/>: launch the rule's float (or storage) launcher on the
/// elements <c>[offset, offset + length)</c> of the parameter and gradient, with <paramref name="state"/> (dequantized
/// float views of the chunk, in the order of the states given to <c>Step</c>) for the quantized buffers — on the same
/// stream.
/// </summary>
/// <param name="offset">
/// The chunk's first element (a multiple of 256). A bfloat16 parameter rounded stochastically takes it as the stream's
/// first index (<c>new StochasticRounding(seed, step, firstIndex + offset)</c>), so the bits do not depend on the chunking.
/// </param>
/// <param name="length">The chunk's length.</param>
/// <param name="state">One float view of <paramref name="length"/> elements per quantized state, in order.</param>
public delegate void GpuBlockwiseUpdate(int offset, int length, ReadOnlySpan<ArrayView<float>> state);

/// <summary>
/// 8-bit blockwise state on the GPU, with the bits of the CPU's <see cref="BlockwiseQuantizer"/> and of the optimizer
/// objects' 8-bit step (<c>Kernels.CompilerServices.BlockwiseStep</c>): <see cref="Dequantize"/> (one thread per element,
/// <c>map[code] · absmax</c>), <see cref="Quantize"/> (one thread per block of 256 for the block's absmax — the bit-pattern
/// maximum of <c>|x|</c>, NaN for a block holding NaN or ±∞ —, then one thread per element: the zero code for zero and
/// non-finite blocks, otherwise <c>x / absmax</c> correctly rounded and the exact nearest-code search over the map's float
/// midpoints with the CPU's even-code tie rule), and <see cref="Step"/>, which runs any rule's existing float or storage
/// launcher between the two.
/// </summary>
/// <remarks>
/// <para>
/// <b>Not fused.</b> <see cref="Step"/> is three launches per chunk — dequantize each state buffer into float scratch, the
/// rule's generated launcher on the chunk, quantize the scratch back — not one kernel that keeps the dequantized block in
/// registers: the state also crosses memory as float (written by dequantization, read and written by the rule, read twice
/// by quantization), which a fused kernel would avoid. The bits are those of
/// the CPU step because each piece has them: the rule's launchers equal the CPU span overloads (tested), and the CPU's
/// 8-bit step equals "dequantize, span overload, quantize" (tested in Kernels.Tests).
/// </para>
/// <para>
/// The map and its midpoints (<c>(map[k] + map[k+1]) · 0.5f</c>, computed on the host as the CPU computes them) live in a
/// 512-float buffer uploaded once per quantizer and accelerator. Every device operation is an integer operation, a
/// comparison, a float multiply (dequantization) or a float division (normalization), which PTX compiles as
/// <c>mul.rn.f32</c> and <c>div.rn.f32</c>; bit patterns go through <see cref="Interop"/>.
/// </para>
/// </remarks>
public static class GpuBlockwise
{
    private const int Block = BlockwiseQuantizer.BlockSize;
    private const int Codes = DynamicQuantizationMap.Size;

    private static readonly GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<float>>> s_dequantize =
        new(typeof(GpuBlockwise).GetMethod(nameof(DequantizeKernel))!);

    private static readonly GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>>> s_absMax =
        new(typeof(GpuBlockwise).GetMethod(nameof(AbsMaxKernel))!);

    private static readonly GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<byte>, int>> s_encode =
        new(typeof(GpuBlockwise).GetMethod(nameof(EncodeKernel))!);

    // Per quantizer, per accelerator: the map then the midpoints (512 floats), uploaded on first use.
    private static readonly ConditionalWeakTable<BlockwiseQuantizer, ConditionalWeakTable<Accelerator, Lazy<MemoryBuffer1D<float, Stride1D.Dense>>>> s_tables = new();

    // ---------------------------------------------------------------- host API

    /// <summary>
    /// Dequantizes <paramref name="codes"/>: <c>values[i] = map[codes[i]] · absmax[i / 256]</c>, the bits of
    /// <see cref="BlockwiseQuantizer.Dequantize(System.ReadOnlySpan{byte}, System.ReadOnlySpan{float}, System.Span{float})"/>. Asynchronous on <paramref name="stream"/>.
    /// </summary>
    /// <param name="stream">The stream (its accelerator holds every view).</param>
    /// <param name="codes">The codes.</param>
    /// <param name="absMax"><c>ceil(codes.Length / 256)</c> block scales.</param>
    /// <param name="values">As long as <paramref name="codes"/>; must not overlap the inputs.</param>
    /// <param name="quantizer">The map's quantizer.</param>
    /// <exception cref="ArgumentException">A length does not match, a view is invalid or on another accelerator, or <paramref name="values"/> overlaps an input.</exception>
    public static void Dequantize(AcceleratorStream stream, ArrayView<byte> codes, ArrayView<float> absMax, ArrayView<float> values, BlockwiseQuantizer quantizer)
    {
        CheckPair(stream, quantizer, values, nameof(values), codes, absMax, nameof(codes), nameof(absMax));
        if (GpuChecks.Overlaps(values, codes) || GpuChecks.Overlaps(values, absMax))
            throw new ArgumentException($"'{nameof(values)}' overlaps an input.", nameof(values));
        if (values.Length > 0)
            s_dequantize.For(stream.Accelerator)(stream, (int)values.Length, codes, absMax, Table(stream.Accelerator, quantizer), values);
    }

    /// <summary>
    /// Quantizes <paramref name="values"/> block by block into <paramref name="codes"/> and <paramref name="absMax"/>, the bits
    /// of <see cref="BlockwiseQuantizer.Quantize"/> (zero blocks, NaN/∞ blocks and the last partial block included).
    /// Asynchronous on <paramref name="stream"/>.
    /// </summary>
    /// <param name="stream">The stream (its accelerator holds every view).</param>
    /// <param name="values">The values.</param>
    /// <param name="codes">As long as <paramref name="values"/>.</param>
    /// <param name="absMax"><c>ceil(values.Length / 256)</c> block scales.</param>
    /// <param name="quantizer">The map's quantizer.</param>
    /// <exception cref="ArgumentException">A length does not match, a view is invalid or on another accelerator, or an output overlaps <paramref name="values"/>.</exception>
    public static void Quantize(AcceleratorStream stream, ArrayView<float> values, ArrayView<byte> codes, ArrayView<float> absMax, BlockwiseQuantizer quantizer)
    {
        CheckPair(stream, quantizer, values, nameof(values), codes, absMax, nameof(codes), nameof(absMax));
        if (GpuChecks.Overlaps(values, codes))
            throw new ArgumentException($"'{nameof(codes)}' overlaps '{nameof(values)}'.", nameof(codes));
        if (GpuChecks.Overlaps(values, absMax))
            throw new ArgumentException($"'{nameof(absMax)}' overlaps '{nameof(values)}'.", nameof(absMax));
        if (values.Length == 0)
            return;
        s_absMax.For(stream.Accelerator)(stream, BlockwiseQuantizer.BlockCount((int)values.Length), values, absMax);
        s_encode.For(stream.Accelerator)(stream, (int)values.Length, values, absMax, Table(stream.Accelerator, quantizer), codes, quantizer.ZeroCode);
    }

    /// <summary>
    /// One step of a rule whose state buffers are 8-bit on the device, chunk by chunk: each state is dequantized into its
    /// slice of <paramref name="scratch"/>, <paramref name="update"/> launches the rule on the chunk, and the slices are
    /// quantized back with each block's new absmax — for a float rule's float or storage launcher, the bits of the
    /// optimizer object's 8-bit step (<c>StatePrecision.Blockwise8Bit</c>). Asynchronous on <paramref name="stream"/>:
    /// <paramref name="update"/> must launch on the same stream (the scratch is reused by the next chunk).
    /// </summary>
    /// <param name="stream">The stream.</param>
    /// <param name="length">The tensor's number of elements.</param>
    /// <param name="states">The quantized state buffers, each of <paramref name="length"/> codes and <c>ceil(length / 256)</c> scales.</param>
    /// <param name="scratch">
    /// Float scratch, split evenly among the states: a chunk is the whole tensor when each state's share holds it, else
    /// the share rounded down to a multiple of 256 (at least 256 elements per state).
    /// </param>
    /// <param name="update">Launches the rule on one chunk (see <see cref="GpuBlockwiseUpdate"/>).</param>
    /// <exception cref="ArgumentException">A length does not match, the scratch is too small or overlaps a state, or a view is invalid or on another accelerator.</exception>
    public static void Step(AcceleratorStream stream, int length, ReadOnlySpan<GpuQuantizedState> states, ArrayView<float> scratch, GpuBlockwiseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(update);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (states.IsEmpty)
            throw new ArgumentException("A blockwise step needs at least one quantized state buffer.", nameof(states));
        for (int s = 0; s < states.Length; s++)
        {
            GpuQuantizedState state = states[s];
            string name = $"{nameof(states)}[{s}]";
            if (state.Quantizer is null)
                throw new ArgumentException($"'{name}' has no quantizer (a default GpuQuantizedState).", nameof(states));
            GpuChecks.RequireOn(stream.Accelerator, state.Codes, name + ".Codes");
            GpuChecks.RequireOn(stream.Accelerator, state.AbsMax, name + ".AbsMax");
            if (state.Codes.Length != length)
                throw new ArgumentException($"'{name}.Codes' has {state.Codes.Length} codes; the tensor has {length} elements.", nameof(states));
            if (state.AbsMax.Length != BlockwiseQuantizer.BlockCount(length))
                throw new ArgumentException($"'{name}.AbsMax' has {state.AbsMax.Length} values; {length} elements need ceil({length} / {Block}) = {BlockwiseQuantizer.BlockCount(length)}.", nameof(states));
            if (GpuChecks.Overlaps(scratch, state.Codes) || GpuChecks.Overlaps(scratch, state.AbsMax))
                throw new ArgumentException($"'{nameof(scratch)}' overlaps '{name}'.", nameof(scratch));
        }
        if (length == 0)
            return;
        GpuChecks.RequireOn(stream.Accelerator, scratch, nameof(scratch));
        long share = scratch.Length / states.Length;
        int chunk = share >= length ? length : (int)(share / Block * Block);
        if (chunk == 0)
            throw new ArgumentException($"'{nameof(scratch)}' has {scratch.Length} floats; {states.Length} state buffers need at least {states.Length * (long)Math.Min(length, Block)} (one block each).", nameof(scratch));

        var slices = new ArrayView<float>[states.Length];
        for (int offset = 0; offset < length; offset += chunk)
        {
            int n = Math.Min(chunk, length - offset);
            int firstBlock = offset / Block, blocks = BlockwiseQuantizer.BlockCount(n);
            for (int s = 0; s < states.Length; s++)
            {
                slices[s] = scratch.SubView((long)s * chunk, n);
                Dequantize(stream, states[s].Codes.SubView(offset, n), states[s].AbsMax.SubView(firstBlock, blocks), slices[s], states[s].Quantizer);
            }
            update(offset, n, slices);
            for (int s = 0; s < states.Length; s++)
                Quantize(stream, slices[s], states[s].Codes.SubView(offset, n), states[s].AbsMax.SubView(firstBlock, blocks), states[s].Quantizer);
        }
    }

    private static void CheckPair(AcceleratorStream stream, BlockwiseQuantizer quantizer, ArrayView<float> values, string valuesName,
        ArrayView<byte> codes, ArrayView<float> absMax, string codesName, string absMaxName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(quantizer);
        GpuChecks.RequireOn(stream.Accelerator, values, valuesName);
        GpuChecks.RequireOn(stream.Accelerator, codes, codesName);
        GpuChecks.RequireOn(stream.Accelerator, absMax, absMaxName);
        GpuChecks.RequireLaunchable(values.Length, valuesName);
        if (codes.Length != values.Length)
            throw new ArgumentException($"'{codesName}' has {codes.Length} elements and '{valuesName}' {values.Length}; they must be equal.", codesName);
        int blocks = BlockwiseQuantizer.BlockCount((int)values.Length);
        if (absMax.Length != blocks)
            throw new ArgumentException($"'{absMaxName}' has {absMax.Length} values; {values.Length} elements need ceil({values.Length} / {Block}) = {blocks}.", absMaxName);
    }

    /// <summary>The map and its midpoints on <paramref name="accelerator"/> (uploaded once).</summary>
    private static ArrayView<float> Table(Accelerator accelerator, BlockwiseQuantizer quantizer)
    {
        var perAccelerator = s_tables.GetValue(quantizer, _ => new ConditionalWeakTable<Accelerator, Lazy<MemoryBuffer1D<float, Stride1D.Dense>>>());
        return perAccelerator.GetValue(accelerator, a => new Lazy<MemoryBuffer1D<float, Stride1D.Dense>>(() => a.Allocate1D(TableOf(quantizer)))).Value.View;
    }

    /// <summary>
    /// The map (256 floats), then the 255 midpoints <c>(map[k] + map[k+1]) · 0.5f</c> as the CPU quantizer computes them,
    /// then NaN (no value is below it or equal to it, so the search never passes code 255).
    /// </summary>
    internal static float[] TableOf(BlockwiseQuantizer quantizer)
    {
        var table = new float[2 * Codes];
        ReadOnlySpan<float> map = quantizer.Map;
        map.CopyTo(table);
        for (int k = 0; k < Codes - 1; k++)
            table[Codes + k] = (map[k] + map[k + 1]) * 0.5f;
        table[2 * Codes - 1] = float.NaN;
        return table;
    }

    // ---------------------------------------------------------------- kernels

    /// <summary>One thread per element: <c>values[i] = map[codes[i]] · absmax[i / 256]</c>.</summary>
    public static void DequantizeKernel(Index1D index, ArrayView<byte> codes, ArrayView<float> absMax, ArrayView<float> table, ArrayView<float> values)
    {
        int i = index;
        values[i] = table[(int)codes[i]] * absMax[i / Block];
    }

    /// <summary>
    /// One thread per block of 256 (the last may be shorter): the absmax as <see cref="BlockwiseQuantizer.AbsMax"/> gives it —
    /// the largest <c>|x|</c> bit pattern (ordered like <c>|x|</c> for non-NaN values; every NaN or ∞ pattern is at least
    /// that of +∞), NaN for a block holding NaN or ±∞, 0 for a zero block.
    /// </summary>
    public static void AbsMaxKernel(Index1D block, ArrayView<float> values, ArrayView<float> absMax)
    {
        int start = block * Block;
        int end = (int)Math.Min(start + (long)Block, values.Length);
        uint max = 0;
        for (int i = start; i < end; i++)
        {
            uint magnitude = Interop.FloatAsInt(values[i]) & 0x7FFF_FFFFu;
            max = magnitude > max ? magnitude : max;
        }
        absMax[block] = max >= 0x7F80_0000u ? float.NaN : Interop.IntAsFloat(max);
    }

    /// <summary>
    /// One thread per element, after <see cref="AbsMaxKernel"/>: the zero code in a zero or non-finite block (absmax 0 or
    /// NaN: no division), else the code of <c>x / absmax</c> — as <see cref="BlockwiseQuantizer.QuantizeBlock"/>.
    /// </summary>
    public static void EncodeKernel(Index1D index, ArrayView<float> values, ArrayView<float> absMax, ArrayView<float> table, ArrayView<byte> codes, int zeroCode)
    {
        int i = index;
        float scale = absMax[i / Block];
        // On the bits: absmax is +0, a positive finite float, or float.NaN (sign bit set) here.
        uint bits = Interop.FloatAsInt(scale);
        codes[i] = bits == 0 || bits >= 0x7F80_0000u ? (byte)zeroCode : (byte)Encode(table, values[i] / scale);
    }

    /// <summary>
    /// <see cref="BlockwiseQuantizer.Encode(float)"/>: the number of midpoints below <paramref name="normalized"/> by binary
    /// search (steps 128, 64, …, 1 comparing with midpoint <c>code + step − 1</c>), plus its low bit when the value lies on
    /// midpoint <c>code</c> exactly (the even code of the two).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Encode(ArrayView<float> table, float normalized)
    {
        // Unrolled, each step an integer select: with a loop form of this search (for step = 128 … 1), ILGPU 1.5.3 at O2
        // emitted PTX without the tie test that follows it (the searched code was stored directly; seen in the PTX, not
        // root-caused, and invisible on the CPU accelerator, which runs the IL). This form keeps it; the PTX test checks.
        int code = 0;
        code += table[Codes + code + 127] < normalized ? 128 : 0;
        code += table[Codes + code + 63] < normalized ? 64 : 0;
        code += table[Codes + code + 31] < normalized ? 32 : 0;
        code += table[Codes + code + 15] < normalized ? 16 : 0;
        code += table[Codes + code + 7] < normalized ? 8 : 0;
        code += table[Codes + code + 3] < normalized ? 4 : 0;
        code += table[Codes + code + 1] < normalized ? 2 : 0;
        code += table[Codes + code] < normalized ? 1 : 0;
        // On a midpoint exactly, between codes `code` and `code + 1`: the even one.
        int tie = table[Codes + code] == normalized ? 1 : 0;
        return code + (tie & code);
    }
}

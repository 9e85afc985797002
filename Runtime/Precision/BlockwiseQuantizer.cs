using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Precision;

/// <summary>
/// 8-bit blockwise quantization (Dettmers et al. 2021, bitsandbytes' <c>quantize_blockwise</c>): the values are cut
/// into blocks of <see cref="BlockSize"/>; each block stores its absolute maximum as a float and each value the 8-bit
/// code of the map entry nearest to <c>value / absmax</c>. Dequantization is <c>map[code] · absmax</c>.
/// </summary>
/// <remarks>
/// <para>
/// <b>Nearest code, ties.</b> The code is chosen as bitsandbytes' <c>dQuantize</c> does: by comparing with the float32
/// midpoints <c>(map[k] + map[k+1]) · 0.5f</c>. Below the first midpoint the code is 0, above the last 255; a value
/// exactly on a midpoint takes the even code of the two (bitsandbytes' binary search ends on an even index and keeps
/// it unless the value is strictly past the midpoint).
/// </para>
/// <para>
/// <b>Normalization.</b> <c>value / absmax</c>, correctly rounded, so the quotient never leaves [−1, 1] and stays
/// accurate for subnormal blocks. bitsandbytes multiplies by the float reciprocal <c>1 / absmax</c> instead, which can
/// differ in the last bit and so, rarely, pick the other code at a midpoint; for absmax below 2^-128 its reciprocal
/// overflows, which the division avoids.
/// </para>
/// <para>
/// <b>Zero blocks.</b> A block whose absmax is 0 stores absmax 0 and the code of the map's 0 in every element (no
/// division happens); it dequantizes to +0 exactly. bitsandbytes would compute <c>0 · (1/0)</c> = NaN there.
/// </para>
/// <para>
/// <b>NaN and infinity.</b> A block holding any NaN or ±∞ stores absmax = NaN and the zero code in every element, so
/// every element of the block dequantizes to NaN: a non-finite value poisons its whole block visibly and
/// deterministically. (bitsandbytes' CUDA kernel skips NaN in its <c>fmaxf</c> reduction and codes a NaN as 0, the
/// most negative value, silently; an infinity there turns every other element into 0 · ∞ = NaN on dequantization.)
/// Dequantization itself is plain IEEE: a NaN or infinite absmax in the input gives what <c>map[code] · absmax</c>
/// gives.
/// </para>
/// <para>
/// Instances hold the map and its midpoints in pinned memory; <see cref="Signed"/> and <see cref="Unsigned"/> are the
/// two bitsandbytes maps, created once. Every method is allocation-free and thread-safe.
/// </para>
/// </remarks>
public sealed unsafe partial class BlockwiseQuantizer
{
    /// <summary>The number of values that share one absmax.</summary>
    public const int BlockSize = 256;

    private const int Codes = DynamicQuantizationMap.Size;

    // Both arrays live on the pinned object heap, so the pointers stay valid for the instance's lifetime.
    private readonly float[] _map;
    private readonly float[] _midpoints;   // 255 midpoints, then NaN: no value is below it or equal to it, so Encode(+∞) stays 255
    private readonly float* _mapPointer;
    private readonly float* _midpointPointer;
    // The vector search's pivot tables (see EncodeAvx512), 26 vectors of 16 floats, pinned like the others.
    private readonly float[] _searchTables;
    private readonly float* _searchPointer;
    private readonly byte[] _buckets;            // the bucketed search (see EncodeBucketed): first code of each bucket
    private readonly byte* _bucketPointer;
    private readonly float[] _paddedMidpoints;   // the midpoints, then +∞ up to index 255 + _bucketMidpoints
    private readonly float* _paddedMidpointPointer;
    private readonly int _bucketMidpoints;       // the most midpoints one bucket holds
    private readonly byte[] _planes;             // dequantization's byte planes (see DequantizeVbmi)
    private readonly byte* _planePointer;

    /// <summary>The quantizer for bitsandbytes' signed dynamic map (<c>DynamicQuantizationMap.Create(true)</c>): first moments.</summary>
    public static BlockwiseQuantizer Signed { get; } = new(DynamicQuantizationMap.Create(signed: true));

    /// <summary>The quantizer for bitsandbytes' unsigned dynamic map (<c>DynamicQuantizationMap.Create(false)</c>): second moments.</summary>
    public static BlockwiseQuantizer Unsigned { get; } = new(DynamicQuantizationMap.Create(signed: false));

    /// <summary>A quantizer for any 256-value map.</summary>
    /// <param name="map">256 finite values in [−1, 1], strictly ascending, one of them 0.</param>
    /// <exception cref="ArgumentException">The map breaks one of those conditions.</exception>
    public BlockwiseQuantizer(ReadOnlySpan<float> map)
    {
        if (map.Length != Codes)
            throw new ArgumentException($"A quantization map has {Codes} values, not {map.Length}.", nameof(map));
        int zero = -1;
        for (int k = 0; k < Codes; k++)
        {
            if (!(map[k] >= -1f && map[k] <= 1f))
                throw new ArgumentException($"Map value {k} ({map[k]}) is not in [-1, 1].", nameof(map));
            if (k > 0 && !(map[k] > map[k - 1]))
                throw new ArgumentException($"Map value {k} ({map[k]}) does not exceed value {k - 1} ({map[k - 1]}); the map must be strictly ascending.", nameof(map));
            if (map[k] == 0f)
                zero = k;
        }
        if (zero < 0)
            throw new ArgumentException("The map has no 0, so zero blocks could not round-trip.", nameof(map));

        _map = GC.AllocateArray<float>(Codes, pinned: true);
        map.CopyTo(_map);
        _midpoints = GC.AllocateArray<float>(Codes, pinned: true);
        for (int k = 0; k < Codes - 1; k++)
            _midpoints[k] = (_map[k] + _map[k + 1]) * 0.5f;
        _midpoints[Codes - 1] = float.NaN;
        _mapPointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_map));
        _midpointPointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_midpoints));
        _searchTables = GC.AllocateArray<float>(SearchTableVectors * 16, pinned: true);
        FillSearchTables(_midpoints, _searchTables);
        _searchPointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_searchTables));
        _buckets = BuildBuckets(_midpoints, out _bucketMidpoints);
        _bucketPointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_buckets));
        _paddedMidpoints = GC.AllocateArray<float>(Codes + _bucketMidpoints, pinned: true);
        _paddedMidpoints.AsSpan().Fill(float.PositiveInfinity);
        _midpoints.AsSpan(0, Codes - 1).CopyTo(_paddedMidpoints);
        _paddedMidpointPointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_paddedMidpoints));
        _planes = BuildPlanes(_map);
        _planePointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_planes));
        ZeroCode = (byte)zero;
        _guess = BuildDecadeGuess(_map, _midpoints);
    }

    /// <summary>The 256 map values, ascending: code <c>k</c> stands for <c>Map[k] · absmax</c>.</summary>
    public ReadOnlySpan<float> Map => _map;

    /// <summary>The code of the map's 0: what zero blocks and non-finite blocks store.</summary>
    public byte ZeroCode { get; }

    /// <summary>The number of blocks (and absmax values) for <paramref name="length"/> values.</summary>
    /// <param name="length">The number of values.</param>
    /// <returns><c>ceil(length / 256)</c>.</returns>
    public static int BlockCount(int length) => (int)(((uint)length + (BlockSize - 1)) / BlockSize);

    // ---------------------------------------------------------------- scalar

    /// <summary>The code of the map value nearest to <paramref name="normalized"/>, ties as bitsandbytes breaks them (see the remarks).</summary>
    /// <param name="normalized">A value divided by its block's absmax, in [−1, 1] (values outside take the end codes; NaN gives 0).</param>
    /// <returns>The code.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte Encode(float normalized)
    {
        // Branch-free lower bound: the number of midpoints below the value (the +∞ sentinel at 255 is never below).
        // Comparisons become 0/1 without branches: random data would mispredict half of them.
        float* mid = _midpointPointer;
        nuint code = 0;
        code += (nuint)Below(mid[code + 127], normalized) << 7;
        code += (nuint)Below(mid[code + 63], normalized) << 6;
        code += (nuint)Below(mid[code + 31], normalized) << 5;
        code += (nuint)Below(mid[code + 15], normalized) << 4;
        code += (nuint)Below(mid[code + 7], normalized) << 3;
        code += (nuint)Below(mid[code + 3], normalized) << 2;
        code += (nuint)Below(mid[code + 1], normalized) << 1;
        code += (nuint)Below(mid[code], normalized);
        // On a midpoint exactly, between codes `code` and `code + 1`: the even one.
        code += (nuint)Unsafe.BitCast<bool, byte>(mid[code] == normalized) & code;
        return (byte)code;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Below(float midpoint, float value) => Unsafe.BitCast<bool, byte>(midpoint < value);

    /// <summary>The map value of <paramref name="code"/> (multiply by the block's absmax to dequantize).</summary>
    /// <param name="code">Any code.</param>
    /// <returns><c>Map[code]</c>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Decode(byte code) => _mapPointer[code];

    /// <summary>
    /// The absmax of a block as quantization stores it: <c>max |x|</c> when every value is finite (0 for an empty or
    /// all-zero block), NaN when any value is NaN or ±∞.
    /// </summary>
    /// <param name="block">The block's values (any length).</param>
    /// <returns>The absmax.</returns>
    public static float AbsMax(ReadOnlySpan<float> block)
    {
        // The largest |x| bit pattern: ordered like |x| for non-NaN values, and every NaN or ∞ pattern is at least
        // that of +∞.
        ref uint bits = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(block));
        int n = block.Length, i = 0;
        uint max = 0;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<uint>.Count)
        {
            Vector512<uint> acc = Vector512<uint>.Zero;
            for (; i <= n - Vector512<uint>.Count; i += Vector512<uint>.Count)
                acc = Vector512.Max(acc, Vector512.LoadUnsafe(ref bits, (nuint)i) & Vector512.Create(0x7FFF_FFFFu));
            Vector256<uint> half = Vector256.Max(acc.GetLower(), acc.GetUpper());
            max = MaxAcross(Vector128.Max(half.GetLower(), half.GetUpper()));
        }
        else if (Vector256.IsHardwareAccelerated && n >= Vector256<uint>.Count)
        {
            Vector256<uint> acc = Vector256<uint>.Zero;
            for (; i <= n - Vector256<uint>.Count; i += Vector256<uint>.Count)
                acc = Vector256.Max(acc, Vector256.LoadUnsafe(ref bits, (nuint)i) & Vector256.Create(0x7FFF_FFFFu));
            max = MaxAcross(Vector128.Max(acc.GetLower(), acc.GetUpper()));
        }
        for (; i < n; i++)
            max = Math.Max(max, Unsafe.Add(ref bits, i) & 0x7FFF_FFFFu);
        return max >= 0x7F80_0000u ? float.NaN : BitConverter.UInt32BitsToSingle(max);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint MaxAcross(Vector128<uint> v) => Math.Max(Math.Max(v.GetElement(0), v.GetElement(1)), Math.Max(v.GetElement(2), v.GetElement(3)));

    /// <summary>Quantizes one block: writes a code per value and returns the block's absmax (see the remarks for zero and non-finite blocks).</summary>
    /// <param name="block">Up to <see cref="BlockSize"/> values (a shorter block is the last one of a tensor).</param>
    /// <param name="codes">At least <c>block.Length</c> codes; must not overlap <paramref name="block"/>.</param>
    /// <returns>The absmax to store for the block.</returns>
    /// <exception cref="ArgumentException">The block is longer than <see cref="BlockSize"/>, or <paramref name="codes"/> is too short or overlaps it.</exception>
    public float QuantizeBlock(ReadOnlySpan<float> block, Span<byte> codes)
    {
        if (block.Length > BlockSize)
            throw new ArgumentException($"A block holds at most {BlockSize} values, not {block.Length}.", nameof(block));
        SpanChecks.Fits(codes.Length, block.Length, nameof(codes));
        SpanChecks.NoOverlap(block, codes, nameof(codes));
        return QuantizeBlockUnchecked(block, codes);
    }

    internal float QuantizeBlockUnchecked(ReadOnlySpan<float> block, Span<byte> codes)
    {
        float absmax = AbsMax(block);
        if (!(absmax > 0f))   // zero, or NaN for a non-finite block
        {
            codes[..block.Length].Fill(ZeroCode);
            return absmax;
        }
        if (_guess is not null)
        {
            GuessQuantize(_guess, ref MemoryMarshal.GetReference(block), ref MemoryMarshal.GetReference(codes), block.Length, absmax);
            return absmax;
        }
        int n = block.Length, i = 0;
        if (Avx2.IsSupported)
        {
            // |x / absmax| ≤ 1 and finite here (a non-finite block left above): the bucketed search applies.
            ref float source = ref MemoryMarshal.GetReference(block);
            ref byte destination = ref MemoryMarshal.GetReference(codes);
            Vector256<float> scale = Vector256.Create(absmax);
            for (; i <= n - 16; i += 16)
            {
                Vector256<int> low = EncodeBucketed(Vector256.LoadUnsafe(ref source, (nuint)i) / scale);
                Vector256<int> high = EncodeBucketed(Vector256.LoadUnsafe(ref source, (nuint)i + 8) / scale);
                Vector256<short> words = Vector256.Narrow(low, high);
                Vector256.Narrow(words, words).GetLower().AsByte().StoreUnsafe(ref destination, (nuint)i);
            }
        }
        for (; i < n; i++)
            codes[i] = Encode(block[i] / absmax);
        return absmax;
    }

    /// <summary>Dequantizes one block: <c>destination[i] = Map[codes[i]] · absmax</c>.</summary>
    /// <param name="codes">The block's codes (up to <see cref="BlockSize"/>).</param>
    /// <param name="absmax">The block's absmax.</param>
    /// <param name="destination">At least <c>codes.Length</c> values; must not overlap <paramref name="codes"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short or overlaps <paramref name="codes"/>.</exception>
    public void DequantizeBlock(ReadOnlySpan<byte> codes, float absmax, Span<float> destination)
    {
        SpanChecks.Fits(destination.Length, codes.Length, nameof(destination));
        SpanChecks.NoOverlap(codes, destination, nameof(destination));
        DequantizeRun(ref MemoryMarshal.GetReference(codes), absmax, ref MemoryMarshal.GetReference(destination), codes.Length);
    }

    // ---------------------------------------------------------------- spans

    /// <summary>
    /// Quantizes <paramref name="values"/> block by block: block <c>b</c> is <c>values[256·b … 256·b + 255]</c> (the last
    /// may be shorter), its absmax goes to <c>absmax[b]</c> and its codes to the same positions of <paramref name="codes"/>.
    /// </summary>
    /// <param name="values">The values to quantize.</param>
    /// <param name="codes">At least as long as <paramref name="values"/>.</param>
    /// <param name="absmax">At least <see cref="BlockCount"/>(<c>values.Length</c>) values.</param>
    /// <exception cref="ArgumentException">A destination is too short, or overlaps <paramref name="values"/>.</exception>
    public void Quantize(ReadOnlySpan<float> values, Span<byte> codes, Span<float> absmax)
    {
        int blocks = BlockCount(values.Length);
        SpanChecks.Fits(codes.Length, values.Length, nameof(codes));
        SpanChecks.Fits(absmax.Length, blocks, nameof(absmax));
        SpanChecks.NoOverlap(values, codes, nameof(codes));
        SpanChecks.NoOverlap(values, absmax, nameof(absmax));
        for (int b = 0; b < blocks; b++)
        {
            int start = b * BlockSize, length = Math.Min(BlockSize, values.Length - start);
            absmax[b] = QuantizeBlockUnchecked(values.Slice(start, length), codes.Slice(start, length));
        }
    }

    /// <summary>Dequantizes block by block: <c>values[i] = Map[codes[i]] · absmax[i / 256]</c>, vectorized, with the scalar bits.</summary>
    /// <param name="codes">The codes.</param>
    /// <param name="absmax">At least <see cref="BlockCount"/>(<c>codes.Length</c>) values.</param>
    /// <param name="values">At least as long as <paramref name="codes"/>; must not overlap the inputs.</param>
    /// <exception cref="ArgumentException">An argument is too short, or <paramref name="values"/> overlaps an input.</exception>
    public void Dequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<float> absmax, Span<float> values)
    {
        int blocks = BlockCount(codes.Length);
        SpanChecks.Fits(absmax.Length, blocks, nameof(absmax));
        SpanChecks.Fits(values.Length, codes.Length, nameof(values));
        SpanChecks.NoOverlap(codes, values, nameof(values));
        SpanChecks.NoOverlap(absmax, values, nameof(values));
        ref byte code = ref MemoryMarshal.GetReference(codes);
        ref float value = ref MemoryMarshal.GetReference(values);
        for (int b = 0; b < blocks; b++)
        {
            int start = b * BlockSize, length = Math.Min(BlockSize, codes.Length - start);
            DequantizeRun(ref Unsafe.Add(ref code, start), absmax[b], ref Unsafe.Add(ref value, start), length);
        }
    }

    internal void DequantizeRun(ref byte codes, float absmax, ref float destination, int length)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated && Avx512Vbmi.IsSupported)
            i = DequantizeVbmi(ref codes, absmax, ref destination, length);
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            Vector512<float> scale = Vector512.Create(absmax);
            for (; i <= length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                Vector512<int> indices = Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref codes, (nuint)i));
                (Table256(_mapPointer, indices) * scale).StoreUnsafe(ref destination, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated && Avx2.IsSupported)
        {
            Vector256<float> scale = Vector256.Create(absmax);
            for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector256<int> indices = Avx2.ConvertToVector256Int32(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref codes, i))).AsByte());
                (Decode(indices) * scale).StoreUnsafe(ref destination, (nuint)i);
            }
        }
        for (; i < length; i++)
            Unsafe.Add(ref destination, i) = _mapPointer[Unsafe.Add(ref codes, i)] * absmax;
    }

    // Dequantization of 64 codes at a time with AVX-512 VBMI: the map's 256 floats as four byte planes (byte p of every
    // value's bits, 256 bytes each, four vectors); a two-table byte permute looks up codes 0…127 and another 128…255 in
    // each plane, the code's top bit picks; byte and word unpacks interleave the planes back into floats. The unpacks
    // work within 128-bit lanes, so the codes are first permuted (TransposeGroups) such that the four result vectors
    // hold elements 0–15, 16–31, 32–47, 48–63 in order. About 30 instructions per 64 values, against 8 two-table float
    // permutes and 7 selects per 16 (Table256) or two gathers per 16.
    private int DequantizeVbmi(ref byte codes, float absmax, ref float destination, int length)
    {
        byte* planes = _planePointer;
        Vector512<byte> p00 = Vector512.Load(planes), p01 = Vector512.Load(planes + 64), p02 = Vector512.Load(planes + 128), p03 = Vector512.Load(planes + 192);
        Vector512<byte> p10 = Vector512.Load(planes + 256), p11 = Vector512.Load(planes + 320), p12 = Vector512.Load(planes + 384), p13 = Vector512.Load(planes + 448);
        Vector512<byte> p20 = Vector512.Load(planes + 512), p21 = Vector512.Load(planes + 576), p22 = Vector512.Load(planes + 640), p23 = Vector512.Load(planes + 704);
        Vector512<byte> p30 = Vector512.Load(planes + 768), p31 = Vector512.Load(planes + 832), p32 = Vector512.Load(planes + 896), p33 = Vector512.Load(planes + 960);
        Vector512<byte> transpose = Vector512.Load(planes + 1024);
        Vector512<float> scale = Vector512.Create(absmax);
        int i = 0;
        for (; i <= length - 64; i += 64)
        {
            Vector512<byte> c = Avx512Vbmi.PermuteVar64x8(Vector512.LoadUnsafe(ref codes, (nuint)i), transpose);
            Vector512<byte> high = Vector512.LessThan(c.AsSByte(), Vector512<sbyte>.Zero).AsByte();
            Vector512<byte> b0 = Vector512.ConditionalSelect(high, Avx512Vbmi.PermuteVar64x8x2(p02, c, p03), Avx512Vbmi.PermuteVar64x8x2(p00, c, p01));
            Vector512<byte> b1 = Vector512.ConditionalSelect(high, Avx512Vbmi.PermuteVar64x8x2(p12, c, p13), Avx512Vbmi.PermuteVar64x8x2(p10, c, p11));
            Vector512<byte> b2 = Vector512.ConditionalSelect(high, Avx512Vbmi.PermuteVar64x8x2(p22, c, p23), Avx512Vbmi.PermuteVar64x8x2(p20, c, p21));
            Vector512<byte> b3 = Vector512.ConditionalSelect(high, Avx512Vbmi.PermuteVar64x8x2(p32, c, p33), Avx512Vbmi.PermuteVar64x8x2(p30, c, p31));
            Vector512<short> low01 = Avx512BW.UnpackLow(b0, b1).AsInt16(), high01 = Avx512BW.UnpackHigh(b0, b1).AsInt16();
            Vector512<short> low23 = Avx512BW.UnpackLow(b2, b3).AsInt16(), high23 = Avx512BW.UnpackHigh(b2, b3).AsInt16();
            (Avx512BW.UnpackLow(low01, low23).AsSingle() * scale).StoreUnsafe(ref destination, (nuint)i);
            (Avx512BW.UnpackHigh(low01, low23).AsSingle() * scale).StoreUnsafe(ref destination, (nuint)i + 16);
            (Avx512BW.UnpackLow(high01, high23).AsSingle() * scale).StoreUnsafe(ref destination, (nuint)i + 32);
            (Avx512BW.UnpackHigh(high01, high23).AsSingle() * scale).StoreUnsafe(ref destination, (nuint)i + 48);
        }
        return i;
    }

    /// <summary>The map's bits as four byte planes (256 bytes each), then the 64-byte permutation of <see cref="DequantizeVbmi"/>.</summary>
    private static byte[] BuildPlanes(float[] map)
    {
        byte[] planes = GC.AllocateArray<byte>(4 * Codes + 64, pinned: true);
        for (int k = 0; k < Codes; k++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(map[k]);
            for (int p = 0; p < 4; p++)
                planes[p * Codes + k] = (byte)(bits >> (8 * p));
        }
        // Result vector r, 128-bit lane L, dword q comes from permuted byte 16L + 4r + q; it must be element 16r + 4L + q.
        for (int lane = 0; lane < 4; lane++)
            for (int r = 0; r < 4; r++)
                for (int q = 0; q < 4; q++)
                    planes[4 * Codes + 16 * lane + 4 * r + q] = (byte)(16 * r + 4 * lane + q);
        return planes;
    }

    // ---------------------------------------------------------------- bucketed search (quantization's inner loop)

    // The search above walks 8 dependent steps per value. Quantization instead cuts [-1, 1] into buckets by the
    // float's bits — magnitude bits >> 15, 256 buckets per binade, everything under 2^-26 in one bucket per sign —
    // and stores per bucket the number of midpoints below its lowest value. A value's code is then that count plus
    // one comparison with each midpoint that can lie in its bucket (at most _bucketMidpoints, found when the table is
    // built), with the same even-code rule on a tie: the same codes as Encode(float) for every value in [-1, 1], one
    // table gather and one or two midpoint gathers per 8 lanes (AVX2).
    private const int BucketShift = 15;
    private const int LowestBucketedBits = 0x3280_0000;                                   // 2^-26
    private const int BucketsPerSign = (0x3F80_0000 >> BucketShift) - (LowestBucketedBits >> BucketShift) + 2;   // zero bucket + 1 ... up to |y| = 1

    private static int BucketIndex(uint bits)
    {
        int k = Math.Max((int)((bits & 0x7FFF_FFFFu) >> BucketShift) - (LowestBucketedBits >> BucketShift) + 1, 0);
        return (bits >> 31) != 0 ? BucketsPerSign - 1 - k : BucketsPerSign + k;
    }

    private static byte[] BuildBuckets(float[] midpoints, out int most)
    {
        // + 3: the table is read with 32-bit gathers at byte offsets.
        var buckets = GC.AllocateArray<byte>(2 * BucketsPerSign + 3, pinned: true);
        most = 0;
        for (int k = 0; k < BucketsPerSign; k++)
        {
            // Magnitudes of bucket k: k = 0 is [0, 2^-26), k ≥ 1 is 2^15 consecutive bit patterns.
            uint low = k == 0 ? 0u : (uint)((k - 1 + (LowestBucketedBits >> BucketShift)) << BucketShift);
            uint high = k == 0 ? LowestBucketedBits - 1u : low + (1u << BucketShift) - 1;
            foreach (bool negative in new[] { false, true })
            {
                float lo = negative ? -BitConverter.UInt32BitsToSingle(high) : BitConverter.UInt32BitsToSingle(low);
                float hi = negative ? -BitConverter.UInt32BitsToSingle(low) : BitConverter.UInt32BitsToSingle(high);
                int below = 0, inside = 0;
                for (int j = 0; j < Codes - 1; j++)
                {
                    if (midpoints[j] < lo)
                        below++;
                    else if (midpoints[j] <= hi)
                        inside++;
                }
                buckets[negative ? BucketsPerSign - 1 - k : BucketsPerSign + k] = (byte)below;
                most = Math.Max(most, inside);
            }
        }
        return buckets;
    }

    /// <summary>Encode(float) for eight values in [−1, 1] (finite): the bucketed search (AVX2 gathers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<int> EncodeBucketed(Vector256<float> y)
    {
        Vector256<int> bits = y.AsInt32();
        Vector256<int> k = Vector256.Max(
            Vector256.ShiftRightLogical(bits & Vector256.Create(0x7FFF_FFFF), BucketShift) - Vector256.Create((LowestBucketedBits >> BucketShift) - 1),
            Vector256<int>.Zero);
        Vector256<int> negative = Vector256.ShiftRightArithmetic(bits, 31);
        Vector256<int> index = Vector256.ConditionalSelect(negative, Vector256.Create(BucketsPerSign - 1) - k, Vector256.Create(BucketsPerSign) + k);
        Vector256<int> first = Avx2.GatherVector256((int*)_bucketPointer, index, 1) & Vector256.Create(0xFF);
        Vector256<int> code = first;
        Vector256<int> tie = Vector256<int>.Zero;
        for (int j = 0; j < _bucketMidpoints; j++)
        {
            Vector256<float> midpoint = Avx2.GatherVector256(_paddedMidpointPointer, first + Vector256.Create(j), 4);
            code -= Vector256.LessThan(midpoint, y).AsInt32();       // true is -1
            tie |= Vector256.Equals(midpoint, y).AsInt32();
        }
        // On a midpoint exactly with an odd count: the even code above it.
        return code + (tie & code & Vector256<int>.One);
    }

    // ---------------------------------------------------------------- vectors

    // The vector search is the scalar one, lane by lane, with the pivot of each step taken from registers instead of
    // memory: step s (128, 64, …, 1) compares with midpoint[code + s - 1], where code is a multiple of 2s, so the
    // pivot is entry code / 2s of a table of 128 / s midpoints. Tables of up to 16 entries are one vector (VPERMPS),
    // 32 entries two (VPERMT2PS), 64 and 128 entries two and four pairs whose results are selected by the index's
    // higher bits. The tie rule needs midpoint[code] only for odd codes (an even code already is the even choice):
    // one more 128-entry table. Vector layout in _searchTables: [0] steps 64 (2 entries), [1] 32 (4), [2] 16 (8),
    // [3] 8 (16), [4..5] 4 (32), [6..9] 2 (64), [10..17] 1 (128), [18..25] the odd midpoints (128).
    private const int SearchTableVectors = 26;

    private static void FillSearchTables(float[] midpoints, float[] tables)
    {
        Array.Fill(tables, float.PositiveInfinity);
        int vector = 0;
        foreach (int step in new[] { 64, 32, 16, 8, 4, 2, 1 })
        {
            int entries = 128 / step;
            for (int j = 0; j < entries; j++)
                tables[vector * 16 + j] = midpoints[j * 2 * step + step - 1];
            vector += Math.Max(1, entries / 16);
        }
        for (int j = 0; j < 128; j++)
            tables[vector * 16 + j] = midpoints[2 * j + 1];
    }

    /// <summary>
    /// <see cref="Encode(float)"/> lane by lane, with the same codes: sixteen normalized values in, sixteen codes (0…255)
    /// out. AVX-512 searches in registers; elsewhere each lane takes the scalar path.
    /// </summary>
    /// <param name="normalized">Values divided by their block's absmax.</param>
    /// <returns>The codes, one per 32-bit lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<int> Encode(Vector512<float> normalized)
    {
        if (_guess is not null && Avx512BW.IsSupported)
            return GuessEncodeAny(_guess, normalized);
        if (Avx512F.IsSupported)
            return EncodeAvx512(normalized);
        Span<int> codes = stackalloc int[16];
        for (int j = 0; j < 16; j++)
            codes[j] = Encode(normalized.GetElement(j));
        return Vector512.Create<int>(codes);
    }

    /// <summary><see cref="Encode(float)"/> lane by lane (eight lanes; see the <see cref="Vector512{T}"/> form).</summary>
    /// <param name="normalized">Values divided by their block's absmax.</param>
    /// <returns>The codes, one per 32-bit lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<int> Encode(Vector256<float> normalized)
    {
        if (_guess is not null && Avx2.IsSupported)
            return GuessEncodeAny(_guess, normalized);
        if (Avx512F.IsSupported)
            return EncodeAvx512(Vector512.Create(normalized, normalized)).GetLower();
        Span<int> codes = stackalloc int[8];
        for (int j = 0; j < 8; j++)
            codes[j] = Encode(normalized.GetElement(j));
        return Vector256.Create<int>(codes);
    }

    /// <summary><see cref="Encode(float)"/> lane by lane (four lanes; see the <see cref="Vector512{T}"/> form).</summary>
    /// <param name="normalized">Values divided by their block's absmax.</param>
    /// <returns>The codes, one per 32-bit lane.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<int> Encode(Vector128<float> normalized)
    {
        if (_guess is not null && Vector128.IsHardwareAccelerated)
            return GuessEncodeAny(_guess, normalized);
        if (Avx512F.IsSupported)
            return EncodeAvx512(Vector512.Create(Vector256.Create(normalized, normalized), Vector256.Create(normalized, normalized))).GetLower().GetLower();
        return Vector128.Create(Encode(normalized.GetElement(0)), Encode(normalized.GetElement(1)), Encode(normalized.GetElement(2)), Encode(normalized.GetElement(3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector512<int> EncodeAvx512(Vector512<float> x)
    {
        float* t = _searchPointer;
        Vector512<int> code = Step(Vector512<int>.Zero, Vector512.Create(_midpointPointer[127]), x, 128);
        code = Step(code, Avx512F.PermuteVar16x32(Vector512.Load(t), code >> 7), x, 64);
        code = Step(code, Avx512F.PermuteVar16x32(Vector512.Load(t + 16), code >> 6), x, 32);
        code = Step(code, Avx512F.PermuteVar16x32(Vector512.Load(t + 32), code >> 5), x, 16);
        code = Step(code, Avx512F.PermuteVar16x32(Vector512.Load(t + 48), code >> 4), x, 8);
        code = Step(code, Avx512F.PermuteVar16x32x2(Vector512.Load(t + 64), code >> 3, Vector512.Load(t + 80)), x, 4);
        code = Step(code, Lookup64(t + 96, code >> 2), x, 2);
        code = Step(code, Lookup128(t + 160, code >> 1), x, 1);
        // On a midpoint exactly with an odd count: the even code above it.
        Vector512<int> odd = code & Vector512<int>.One;
        Vector512<float> oddMidpoint = Lookup128(t + 288, code >> 1);
        return code + (Vector512.Equals(oddMidpoint, x).AsInt32() & odd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Step(Vector512<int> code, Vector512<float> pivot, Vector512<float> x, int step) =>
        code + (Vector512.LessThan(pivot, x).AsInt32() & Vector512.Create(step));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Lookup64(float* table, Vector512<int> index)
    {
        Vector512<float> low = Avx512F.PermuteVar16x32x2(Vector512.Load(table), index, Vector512.Load(table + 16));
        Vector512<float> high = Avx512F.PermuteVar16x32x2(Vector512.Load(table + 32), index, Vector512.Load(table + 48));
        return Vector512.ConditionalSelect(Bit(index, 32), high, low);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Lookup128(float* table, Vector512<int> index) =>
        Vector512.ConditionalSelect(Bit(index, 64), Lookup64(table + 64, index), Lookup64(table, index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Bit(Vector512<int> index, int bit) =>
        Vector512.Equals(index & Vector512.Create(bit), Vector512.Create(bit)).AsSingle();

    /// <summary>The map values of four codes (each lane's low 8 bits are used), gathered from the table: <see cref="Decode(byte)"/> lane by lane.</summary>
    /// <param name="codes">One code per lane.</param>
    /// <returns>The map values.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Decode(Vector128<int> codes)
    {
        codes &= Vector128.Create(0xFF);
        if (Avx2.IsSupported)
            return Avx2.GatherVector128(_mapPointer, codes, 4);
        float* map = _mapPointer;
        return Vector128.Create(map[codes.GetElement(0)], map[codes.GetElement(1)], map[codes.GetElement(2)], map[codes.GetElement(3)]);
    }

    /// <summary>The map values of eight codes (each lane's low 8 bits are used), gathered from the table: <see cref="Decode(byte)"/> lane by lane.</summary>
    /// <param name="codes">One code per lane.</param>
    /// <returns>The map values.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Decode(Vector256<int> codes)
    {
        codes &= Vector256.Create(0xFF);
        if (Avx2.IsSupported)
            return Avx2.GatherVector256(_mapPointer, codes, 4);
        return Vector256.Create(Decode(codes.GetLower()), Decode(codes.GetUpper()));
    }

    /// <summary>The map values of sixteen codes (each lane's low 8 bits are used), gathered from the table: <see cref="Decode(byte)"/> lane by lane.</summary>
    /// <param name="codes">One code per lane.</param>
    /// <returns>The map values.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Decode(Vector512<int> codes) =>
        // .NET 10 exposes no AVX-512 gather; two 256-bit gathers.
        Vector512.Create(Decode(codes.GetLower()), Decode(codes.GetUpper()));

    /// <summary>Dequantizes sixteen codes of one block: <c>Map[code] · absmax</c> lane by lane, the bits of the scalar form.</summary>
    /// <param name="codes">Sixteen codes.</param>
    /// <param name="absmax">The block's absmax.</param>
    /// <returns>The sixteen values.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Dequantize(Vector128<byte> codes, float absmax)
    {
        Vector512<int> indices = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512Int32(codes)
            : Vector512.Create(Widen(codes.GetLower()), Widen(codes.GetUpper()));
        return Decode(indices) * Vector512.Create(absmax);
    }

    /// <summary>Dequantizes eight codes of one block: <c>Map[code] · absmax</c> lane by lane, the bits of the scalar form.</summary>
    /// <param name="codes">Eight codes.</param>
    /// <param name="absmax">The block's absmax.</param>
    /// <returns>The eight values.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Dequantize(Vector64<byte> codes, float absmax)
    {
        Vector256<int> indices = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32(Vector128.Create(codes, Vector64<byte>.Zero))
            : Widen(codes);
        return Decode(indices) * Vector256.Create(absmax);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Widen(Vector64<byte> codes)
    {
        Vector128<ushort> wide = Vector128.WidenLower(Vector128.Create(codes, Vector64<byte>.Zero));
        (Vector128<uint> lower, Vector128<uint> upper) = Vector128.Widen(wide);
        return Vector256.Create(lower, upper).AsInt32();
    }
}

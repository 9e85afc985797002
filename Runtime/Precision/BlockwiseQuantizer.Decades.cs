using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Precision;

// Quantization of the two dynamic maps without a search: the code is guessed arithmetically from the map's structure,
// then fixed up with one comparison against one midpoint.
//
// Structure. Past 0, the dynamic map is seven decades d = 0…6 of N_d codes each (signed: 1, 2, 4, …, 64; unsigned: 2,
// 4, …, 128), decade d spanning [0.1, 1]·10^(d−6) linearly; 1 comes last. In decade d's coordinate
// t = (a / 10^(d−6) − 0.1) · N_d / 0.9 its codes lie at t = j + 0.5 and the midpoints between them near t = j; the
// midpoint down to decade d − 1 lies near t = 0.2. Number the midpoints above 0 from F (127 signed, 0 unsigned); decade
// d's lowest one is L_d = F + N_0 + … + N_{d−1}.
//
// The guess for a ≥ 0: d = the number of boundaries B_1…B_6 below a, where B_d = map[L_d] is decade d − 1's last code
// (t = N − 0.5 there, and −0.1 in decade d's coordinate); u = a · slope_d + bias_d in float, where
// slope_d = N_d / (0.9 · 10^(d−6)) and bias_d holds L_d − F − 0.1·N_d/0.9 plus 1.5·2^19, so that u's bits carry
// t + L_d − F in sixteenths (floats in [2^19, 2^20) are 2^−4 apart); G − F = round-half-up of that, read off u's bits
// with an integer subtraction and a shift. Decade d's formula is used for t ∈ (−0.1, N_d − 0.5] only (from B_d to
// B_{d+1}), where it rounds to 0…N_d − 1 (N_d at a = 1 in the last decade): the guess needs no clamp.
//
// Why one comparison suffices. G is monotone in a: each step is (a positive slope, round-to-nearest, the bits of a
// positive float), and across each boundary the constructor checks that decade d − 1's largest value (just below B_d)
// is at most decade d's value at B_d. It also checks G(midpoint[j]) = j for every midpoint j ≥ F. Then for any a with
// G(a) = g: a > midpoint[g − 1] (else G(a) ≤ G(midpoint[g − 1]) = g − 1) and a < midpoint[g + 1] (else G(a) ≥ g + 1),
// so Encode(a) — the number of midpoints below a, plus its low bit on a tie — is g + (midpoint[g] < a) + (tie and g
// odd) = g + (threshold[g] < a), with threshold[g] = midpoint[g] for even g and the float just below it for odd g.
// For every float, with no tolerance to argue about: the checks run on the very float operations the loops use.
//
// Negative values. The signed map is symmetric (map[k] = −map[254 − k] for k < 127, map[127] = 0, map[255] = 1), so
// its midpoints are too, and Encode(−a) = max(254 − Encode(a), 0) (the mirrored midpoint; 254 is even, so the mirror
// keeps the even-code rule). The unsigned map codes every negative value as 0 = max(0 − Encode(a), 0). One formula:
// code = sign bit ? max(Mirror − P, 0) : P, with Mirror 254 or 0 (−0 included: P(0) is the zero code, which mirrors
// to itself).
public sealed unsafe partial class BlockwiseQuantizer
{
    private const int Decades = 7;
    private const float GuessMagic = 786432f;                 // 1.5 · 2^19: floats in [2^19, 2^20) are spaced 2^-4
    private const int GuessOffset = 0x4940_0000 - 8;          // bits of GuessMagic, minus a half (8 sixteenths)

    // The guess (null for a map without the dynamic structure).
    private readonly DecadeGuess? _guess;

    private sealed class DecadeGuess
    {
        // Pinned, 16 floats each so that a vector permute reads them whole: Slope[d], Bias[d], Boundaries[k] = B_{k+1}
        // (then +∞). BinadeBoundary/BinadeDecade: per binade e = 0…31 of a (exponent − 96, saturating at 0; e = 31 is
        // [1, 2)) the boundary inside it (+∞ if none: a decade spans 3.3 binades) and the number of boundaries below
        // it, so that d = BinadeDecade[e] + (BinadeBoundary[e] < a), the AVX-512 path's count. Thresholds[g − F] as in
        // the file's comment, then +∞ up to 256.
        public readonly float* Slope, Bias, Boundaries, BinadeBoundary, Thresholds;
        public readonly int* BinadeDecade;
        public readonly int First;        // F
        public readonly int Mirror;       // 254 (signed) or 0 (unsigned)
        public readonly bool Wide;        // more than 128 thresholds (the unsigned map): a 256-entry table
        private readonly float[] _floats;   // the pinned arrays behind the pointers, held for the instance's lifetime
        private readonly int[] _ints;

        public DecadeGuess(float[] floats, int[] ints, int first, int mirror, bool wide)
        {
            _floats = floats;
            _ints = ints;
            float* f = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(floats));
            Slope = f;
            Bias = f + 16;
            Boundaries = f + 32;
            BinadeBoundary = f + 48;
            Thresholds = f + 80;
            BinadeDecade = (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(ints));
            First = first;
            Mirror = mirror;
            Wide = wide;
        }
    }

    /// <summary>Whether quantization guesses codes arithmetically (bitsandbytes' two dynamic maps) rather than searching.</summary>
    internal bool HasDecadeGuess => _guess is not null;

    /// <summary>The guess and its checks for the two dynamic maps (see the file's comment); null for any other map.</summary>
    private static DecadeGuess? BuildDecadeGuess(float[] map, float[] midpoints)
    {
        bool signed;
        if (map.AsSpan().SequenceEqual(DynamicQuantizationMap.Create(signed: true)))
            signed = true;
        else if (map.AsSpan().SequenceEqual(DynamicQuantizationMap.Create(signed: false)))
            signed = false;
        else
            return null;
        if (signed)
        {
            for (int k = 0; k < 127; k++)
                if (map[k] != -map[254 - k])
                    return null;
            if (map[127] != 0f || map[255] != 1f)
                return null;
        }

        int first = signed ? 127 : 0;
        var lowest = new int[Decades + 1];
        var slope = new float[16];
        var bias = new float[16];
        var boundaries = new float[16];
        boundaries.AsSpan().Fill(float.PositiveInfinity);
        lowest[0] = first;
        for (int d = 0; d < Decades; d++)
        {
            int codes = signed ? 1 << d : 2 << d;
            lowest[d + 1] = lowest[d] + codes;
            double scale = Math.Pow(10, d - 6), width = 0.9 / codes;
            slope[d] = (float)(1 / (scale * width));
            bias[d] = (float)(lowest[d] - first - 0.1 / width + GuessMagic);
            if (!(slope[d] > 0f))
                return null;
        }
        if (lowest[Decades] != Codes - 2)   // the last midpoint, between the last code below 1 and 1
            return null;
        for (int d = 1; d < Decades; d++)
            boundaries[d - 1] = map[lowest[d]];

        // The checks of the file's comment: every midpoint's guess is its index; G never decreases across a boundary;
        // G(0) ≥ F and G(1) ≤ 254, so every index into the thresholds is in range.
        for (int j = first; j < Codes - 1; j++)
            if (first + Guess(midpoints[j], slope, bias, boundaries) != j)
                return null;
        for (int d = 1; d < Decades; d++)
            if ((d > 1 && !(boundaries[d - 1] > boundaries[d - 2]))
                || GuessIn(d - 1, MathF.BitDecrement(boundaries[d - 1]), slope, bias) > GuessIn(d, boundaries[d - 1], slope, bias))
                return null;
        if (Guess(0f, slope, bias, boundaries) < 0 || first + Guess(1f, slope, bias, boundaries) > Codes - 2)
            return null;

        var binadeBoundary = new float[32];
        var binadeDecade = new int[32];
        for (int e = 0; e < 32; e++)
        {
            float low = e == 0 ? 0f : BitConverter.Int32BitsToSingle((e + 96) << 23);
            float high = BitConverter.Int32BitsToSingle((e + 97) << 23);
            binadeBoundary[e] = float.PositiveInfinity;
            for (int k = 0; k < Decades - 1; k++)
            {
                if (boundaries[k] < low)
                    binadeDecade[e]++;
                else if (boundaries[k] < high)
                {
                    if (!float.IsPositiveInfinity(binadeBoundary[e]))
                        return null;   // two boundaries in one binade
                    binadeBoundary[e] = boundaries[k];
                }
            }
        }

        float[] floats = GC.AllocateArray<float>(80 + 256, pinned: true);
        slope.CopyTo(floats, 0);
        bias.CopyTo(floats, 16);
        boundaries.CopyTo(floats, 32);
        binadeBoundary.CopyTo(floats, 48);
        floats.AsSpan(80).Fill(float.PositiveInfinity);
        for (int g = first; g < Codes - 1; g++)
            floats[80 + g - first] = (g & 1) == 0 ? midpoints[g] : MathF.BitDecrement(midpoints[g]);
        int[] ints = GC.AllocateArray<int>(32, pinned: true);
        binadeDecade.CopyTo(ints, 0);
        return new DecadeGuess(floats, ints, first, signed ? 254 : 0, Codes - 1 - first > 128);
    }

    /// <summary>G(a) − F for a ≥ 0: the scalar form of the vector code below, the same float operations.</summary>
    private static int Guess(float a, float[] slope, float[] bias, float[] boundaries)
    {
        int d = 0;
        for (int k = 0; k < Decades - 1; k++)
            d += boundaries[k] < a ? 1 : 0;
        return GuessIn(d, a, slope, bias);
    }

    private static int GuessIn(int d, float a, float[] slope, float[] bias) =>
        (BitConverter.SingleToInt32Bits(a * slope[d] + bias[d]) - GuessOffset) >> 4;

    /// <summary>Encode(float) for one value by the guess (the vector paths' tail; the same codes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int GuessEncode(DecadeGuess g, float y)
    {
        float a = MathF.Abs(y);
        int d = 0;
        for (int k = 0; k < Decades - 1; k++)
            d += g.Boundaries[k] < a ? 1 : 0;
        int index = (BitConverter.SingleToInt32Bits(a * g.Slope[d] + g.Bias[d]) - GuessOffset) >> 4;
        int code = g.First + index + (g.Thresholds[index] < a ? 1 : 0);
        return BitConverter.SingleToInt32Bits(y) < 0 ? Math.Max(g.Mirror - code, 0) : code;
    }

    // ---------------------------------------------------------------- the guess in vectors

    /// <summary>
    /// Encode(float) for sixteen values in [−1, 1] with AVX-512 permutes for every table: the decade from the binary
    /// exponent, its constants, the threshold.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> GuessEncode512(DecadeGuess g, Vector512<float> y)
    {
        Vector512<float> a = Vector512.Abs(y);
        Vector512<int> e = Avx512BW.SubtractSaturate(Vector512.ShiftRightLogical(a.AsUInt32(), 23).AsUInt16(), Vector512.Create((ushort)96)).AsInt32();
        Vector512<float> boundary = Avx512F.PermuteVar16x32x2(Vector512.Load(g.BinadeBoundary), e, Vector512.Load(g.BinadeBoundary + 16));
        Vector512<int> d = Avx512F.PermuteVar16x32x2(Vector512.Load(g.BinadeDecade), e, Vector512.Load(g.BinadeDecade + 16))
            - Vector512.LessThan(boundary, a).AsInt32();
        Vector512<float> u = a * Avx512F.PermuteVar16x32(Vector512.Load(g.Slope), d) + Avx512F.PermuteVar16x32(Vector512.Load(g.Bias), d);
        Vector512<int> index = Vector512.ShiftRightArithmetic(u.AsInt32() - Vector512.Create(GuessOffset), 4);
        Vector512<float> threshold = g.Wide ? Table256(g.Thresholds, index) : Table128(g.Thresholds, index);
        Vector512<int> code = index + Vector512.Create(g.First) - Vector512.LessThan(threshold, a).AsInt32();
        Vector512<int> mirrored = Vector512.Max(Vector512.Create(g.Mirror) - code, Vector512<int>.Zero);
        return Vector512.ConditionalSelect(Vector512.ShiftRightArithmetic(y.AsInt32(), 31), mirrored, code);
    }

    /// <summary>table[index] for indices 0…127: four two-table permutes, selected by index bits 5 and 6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Table128(float* table, Vector512<int> index)
    {
        Vector512<float> bit5 = Vector512.GreaterThan(index & Vector512.Create(32), Vector512<int>.Zero).AsSingle();
        Vector512<float> bit6 = Vector512.GreaterThan(index & Vector512.Create(64), Vector512<int>.Zero).AsSingle();
        return Vector512.ConditionalSelect(bit6,
            Vector512.ConditionalSelect(bit5,
                Avx512F.PermuteVar16x32x2(Vector512.Load(table + 96), index, Vector512.Load(table + 112)),
                Avx512F.PermuteVar16x32x2(Vector512.Load(table + 64), index, Vector512.Load(table + 80))),
            Vector512.ConditionalSelect(bit5,
                Avx512F.PermuteVar16x32x2(Vector512.Load(table + 32), index, Vector512.Load(table + 48)),
                Avx512F.PermuteVar16x32x2(Vector512.Load(table), index, Vector512.Load(table + 16))));
    }

    /// <summary>table[index] for indices 0…255 (bit 7 selects between two <see cref="Table128"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Table256(float* table, Vector512<int> index) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(index & Vector512.Create(128), Vector512<int>.Zero).AsSingle(),
            Table128(table + 128, index), Table128(table, index));

    /// <summary>Encode(float) for eight values in [−1, 1]: compares for the decade, AVX2 permutes for its constants, a gather for the threshold.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> GuessEncode256(DecadeGuess g, Vector256<float> y)
    {
        Vector256<float> a = Vector256.Abs(y);
        Vector256<int> d = Vector256<int>.Zero;
        for (int k = 0; k < Decades - 1; k++)
            d -= Vector256.LessThan(Vector256.Create(g.Boundaries[k]), a).AsInt32();
        Vector256<float> u = a * Avx2.PermuteVar8x32(Vector256.Load(g.Slope), d) + Avx2.PermuteVar8x32(Vector256.Load(g.Bias), d);
        Vector256<int> index = Vector256.ShiftRightArithmetic(u.AsInt32() - Vector256.Create(GuessOffset), 4);
        Vector256<float> threshold = Avx2.GatherVector256(g.Thresholds, index, 4);
        Vector256<int> code = index + Vector256.Create(g.First) - Vector256.LessThan(threshold, a).AsInt32();
        Vector256<int> mirrored = Vector256.Max(Vector256.Create(g.Mirror) - code, Vector256<int>.Zero);
        return Vector256.ConditionalSelect(Vector256.ShiftRightArithmetic(y.AsInt32(), 31), mirrored, code);
    }

    /// <summary>Encode(float) for four values in [−1, 1] with portable Vector128 operations (selects for the decade's constants, four loads for the thresholds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> GuessEncode128(DecadeGuess g, Vector128<float> y)
    {
        Vector128<float> a = Vector128.Abs(y);
        Vector128<float> slope = Vector128.Create(g.Slope[0]), bias = Vector128.Create(g.Bias[0]);
        for (int k = 0; k < Decades - 1; k++)
        {
            Vector128<float> above = Vector128.LessThan(Vector128.Create(g.Boundaries[k]), a);
            slope = Vector128.ConditionalSelect(above, Vector128.Create(g.Slope[k + 1]), slope);
            bias = Vector128.ConditionalSelect(above, Vector128.Create(g.Bias[k + 1]), bias);
        }
        Vector128<int> index = Vector128.ShiftRightArithmetic((a * slope + bias).AsInt32() - Vector128.Create(GuessOffset), 4);
        float* t = g.Thresholds;
        Vector128<float> threshold = Vector128.Create(t[index.GetElement(0)], t[index.GetElement(1)], t[index.GetElement(2)], t[index.GetElement(3)]);
        Vector128<int> code = index + Vector128.Create(g.First) - Vector128.LessThan(threshold, a).AsInt32();
        Vector128<int> mirrored = Vector128.Max(Vector128.Create(g.Mirror) - code, Vector128<int>.Zero);
        return Vector128.ConditionalSelect(Vector128.ShiftRightArithmetic(y.AsInt32(), 31), mirrored, code);
    }

    // The public vector forms take any input: NaN lanes code as 0 and values outside [−1, 1] as ±1 do (the end codes).
    private static Vector512<int> GuessEncodeAny(DecadeGuess g, Vector512<float> y)
    {
        Vector512<float> number = Vector512.Equals(y, y);
        Vector512<float> clamped = Vector512.ConditionalSelect(number, Vector512.Min(Vector512.Max(y, Vector512.Create(-1f)), Vector512<float>.One), Vector512<float>.Zero);
        return GuessEncode512(g, clamped) & number.AsInt32();
    }

    private static Vector256<int> GuessEncodeAny(DecadeGuess g, Vector256<float> y)
    {
        Vector256<float> number = Vector256.Equals(y, y);
        Vector256<float> clamped = Vector256.ConditionalSelect(number, Vector256.Min(Vector256.Max(y, Vector256.Create(-1f)), Vector256<float>.One), Vector256<float>.Zero);
        return GuessEncode256(g, clamped) & number.AsInt32();
    }

    private static Vector128<int> GuessEncodeAny(DecadeGuess g, Vector128<float> y)
    {
        Vector128<float> number = Vector128.Equals(y, y);
        Vector128<float> clamped = Vector128.ConditionalSelect(number, Vector128.Min(Vector128.Max(y, Vector128.Create(-1f)), Vector128<float>.One), Vector128<float>.Zero);
        return GuessEncode128(g, clamped) & number.AsInt32();
    }

    // ---------------------------------------------------------------- blocks

    /// <summary>Codes of a block with absmax > 0 and finite (so every quotient is in [−1, 1]) by the guess; the widest accelerated vectors, the guess's scalar form for the tail.</summary>
    private void GuessQuantize(DecadeGuess g, ref float source, ref byte destination, int n, float absmax)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated && Avx512BW.IsSupported)
        {
            Vector512<float> scale = Vector512.Create(absmax);
            for (; i <= n - 16; i += 16)
            {
                Vector512<int> codes = GuessEncode512(g, Vector512.LoadUnsafe(ref source, (nuint)i) / scale);
                Avx512F.ConvertToVector128Byte(codes).StoreUnsafe(ref destination, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated && Avx2.IsSupported)
        {
            Vector256<float> scale = Vector256.Create(absmax);
            for (; i <= n - 16; i += 16)
            {
                Vector256<int> low = GuessEncode256(g, Vector256.LoadUnsafe(ref source, (nuint)i) / scale);
                Vector256<int> high = GuessEncode256(g, Vector256.LoadUnsafe(ref source, (nuint)i + 8) / scale);
                Vector256<short> words = Vector256.Narrow(low, high);
                Vector256.Narrow(words, words).GetLower().AsByte().StoreUnsafe(ref destination, (nuint)i);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<float> scale = Vector128.Create(absmax);
            for (; i <= n - 16; i += 16)
            {
                Vector128<short> low = Vector128.Narrow(
                    GuessEncode128(g, Vector128.LoadUnsafe(ref source, (nuint)i) / scale),
                    GuessEncode128(g, Vector128.LoadUnsafe(ref source, (nuint)i + 4) / scale));
                Vector128<short> high = Vector128.Narrow(
                    GuessEncode128(g, Vector128.LoadUnsafe(ref source, (nuint)i + 8) / scale),
                    GuessEncode128(g, Vector128.LoadUnsafe(ref source, (nuint)i + 12) / scale));
                Vector128.Narrow(low, high).AsByte().StoreUnsafe(ref destination, (nuint)i);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref destination, i) = (byte)GuessEncode(g, Unsafe.Add(ref source, i) / absmax);
    }
}

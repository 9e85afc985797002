using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kernels.Precision;

namespace Kernels.CompilerServices;

/// <summary>
/// Loads and stores of the generated storage kernels: a buffer held as <see cref="float"/>, <see cref="BFloat16"/> or
/// <see cref="Half"/> is widened to float as it is loaded and narrowed back (round to nearest, ties to even, or
/// stochastically for a bfloat16 parameter) as it is stored; the rule computes in float. Every vector form gives, lane
/// by lane, the bits of the scalar form (<c>(float)b</c>, <c>(BFloat16)f</c>, <c>(float)h</c>, <c>(Half)f</c>,
/// <see cref="BFloat16.RoundStochastic"/>), so a step's bits do not depend on the vector width.
/// </summary>
/// <remarks>
/// <para>
/// A vector of N floats reads or writes N storage elements: 2N bytes for a 16-bit type. The element type is a generic
/// argument, and each method tests it with <c>typeof(T) == typeof(…)</c>, which the JIT folds per instantiation: a
/// float buffer compiles to the plain <c>LoadUnsafe</c>/<c>StoreUnsafe</c> of the float kernels. Any other type is
/// rejected by <see cref="StepChecks.StorageType{T}"/> before a kernel runs.
/// </para>
/// <para>Used by generated code; not meant to be called by hand.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Storage
{
    /// <summary>Whether <typeparamref name="T"/> is a storage type of the generated kernels: float, bfloat16 or fp16.</summary>
    /// <typeparam name="T">The element type of a buffer.</typeparam>
    public static bool IsSupported<T>() => typeof(T) == typeof(float) || typeof(T) == typeof(BFloat16) || typeof(T) == typeof(Half);

    // ---------------------------------------------------------------- scalar

    /// <summary>Element <paramref name="index"/> of the buffer at <paramref name="source"/>, as a float (exact).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="source">The buffer's first element.</param>
    /// <param name="index">The element's index.</param>
    /// <returns>The element's value.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load<T>(ref T source, int index) where T : unmanaged
    {
        ref T element = ref Unsafe.Add(ref source, index);
        if (typeof(T) == typeof(float))
            return Unsafe.As<T, float>(ref element);
        if (typeof(T) == typeof(BFloat16))
            return (float)Unsafe.As<T, BFloat16>(ref element);
        if (typeof(T) == typeof(Half))
            return (float)Unsafe.As<T, Half>(ref element);
        throw Unsupported<T>();
    }

    /// <summary>Stores <paramref name="value"/> as element <paramref name="index"/>, rounded to nearest (ties to even).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The element's index.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(float value, ref T destination, int index) where T : unmanaged
    {
        ref T element = ref Unsafe.Add(ref destination, index);
        if (typeof(T) == typeof(float))
            Unsafe.As<T, float>(ref element) = value;
        else if (typeof(T) == typeof(BFloat16))
            Unsafe.As<T, BFloat16>(ref element) = (BFloat16)value;
        else if (typeof(T) == typeof(Half))
            Unsafe.As<T, Half>(ref element) = (Half)value;
        else
            throw Unsupported<T>();
    }

    /// <summary>
    /// Stores <paramref name="value"/> as element <paramref name="index"/> of a bfloat16 buffer, rounded stochastically with
    /// the random bits of element <c>rounding.FirstIndex + index</c> (a float buffer stores it as it is).
    /// </summary>
    /// <typeparam name="T">The storage type: bfloat16 (or float).</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The element's index.</param>
    /// <param name="rounding">The random stream; its <see cref="StochasticRounding.FirstIndex"/> is the index of <paramref name="destination"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStochastic<T>(float value, ref T destination, int index, in StochasticRounding rounding) where T : unmanaged
    {
        if (typeof(T) == typeof(BFloat16))
        {
            uint random = RandomStream.Bits16(rounding.Seed, rounding.Step, rounding.FirstIndex + (ulong)index);
            Unsafe.As<T, BFloat16>(ref Unsafe.Add(ref destination, index)) = BFloat16.RoundStochastic(value, random);
        }
        else if (typeof(T) == typeof(float))
            Store(value, ref destination, index);
        else
            throw NoStochasticRounding<T>();
    }

    /// <summary>
    /// Stores <paramref name="value"/> as element <paramref name="index"/> of a bfloat16 buffer, rounded stochastically with
    /// the bits of element <paramref name="index"/> of <paramref name="bits"/> (a float buffer stores it as it is).
    /// </summary>
    /// <typeparam name="T">The storage type: bfloat16 (or float).</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The element's index.</param>
    /// <param name="bits">The loop's random bits; their first index is the index of <paramref name="destination"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStochastic<T>(float value, ref T destination, int index, ref StochasticBits bits) where T : unmanaged
    {
        if (typeof(T) == typeof(BFloat16))
        {
            uint random = bits.At((nuint)index, 1);
            Unsafe.As<T, BFloat16>(ref Unsafe.Add(ref destination, index)) = BFloat16.RoundStochastic(value, random);
        }
        else if (typeof(T) == typeof(float))
            Store(value, ref destination, index);
        else
            throw NoStochasticRounding<T>();
    }

    // ---------------------------------------------------------------- Vector512

    /// <summary>Sixteen elements from <paramref name="index"/> on, as floats (exact).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="source">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    /// <returns>The values.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512<T>(ref T source, nuint index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector512.LoadUnsafe(ref Unsafe.As<T, float>(ref source), index);
        if (typeof(T) == typeof(BFloat16))
            return BFloat16Conversions.ToSingle(Widen(Vector256.LoadUnsafe(ref Unsafe.As<T, ushort>(ref source), index)));
        if (typeof(T) == typeof(Half))
            return HalfConversions.ToSingle(Widen(Vector256.LoadUnsafe(ref Unsafe.As<T, ushort>(ref source), index)));
        throw Unsupported<T>();
    }

    /// <summary>Stores sixteen floats from <paramref name="index"/> on, rounded to nearest (ties to even).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="value">The values.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(Vector512<float> value, ref T destination, nuint index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            value.StoreUnsafe(ref Unsafe.As<T, float>(ref destination), index);
        else if (typeof(T) == typeof(BFloat16))
            Narrow(BFloat16Conversions.RoundToNearestEven(value)).StoreUnsafe(ref Unsafe.As<T, ushort>(ref destination), index);
        else if (typeof(T) == typeof(Half))
            Narrow(HalfConversions.RoundToHalf(value)).StoreUnsafe(ref Unsafe.As<T, ushort>(ref destination), index);
        else
            throw Unsupported<T>();
    }

    /// <summary>Stores sixteen floats from <paramref name="index"/> on into a bfloat16 buffer, rounded stochastically (lane <c>j</c> with the bits of element <c>index + j</c> of <paramref name="bits"/>).</summary>
    /// <typeparam name="T">The storage type: bfloat16 (or float, stored as it is).</typeparam>
    /// <param name="value">The values.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    /// <param name="bits">The loop's random bits; their first index is the index of <paramref name="destination"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStochastic<T>(Vector512<float> value, ref T destination, nuint index, ref StochasticBits bits) where T : unmanaged
    {
        if (typeof(T) == typeof(BFloat16))
        {
            Vector512<uint> random = Widen(Vector256.LoadUnsafe(ref bits.At(index, 16)));
            Narrow(BFloat16Conversions.RoundStochastic(value, random)).StoreUnsafe(ref Unsafe.As<T, ushort>(ref destination), index);
        }
        else if (typeof(T) == typeof(float))
            Store(value, ref destination, index);
        else
            throw NoStochasticRounding<T>();
    }

    // ---------------------------------------------------------------- Vector256

    /// <summary>Eight elements from <paramref name="index"/> on, as floats (exact).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="source">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    /// <returns>The values.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256<T>(ref T source, nuint index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref source), index);
        if (typeof(T) == typeof(BFloat16))
            return BFloat16Conversions.ToSingle(Widen(Vector128.LoadUnsafe(ref Unsafe.As<T, ushort>(ref source), index)));
        if (typeof(T) == typeof(Half))
            return HalfConversions.ToSingle(Widen(Vector128.LoadUnsafe(ref Unsafe.As<T, ushort>(ref source), index)));
        throw Unsupported<T>();
    }

    /// <summary>Stores eight floats from <paramref name="index"/> on, rounded to nearest (ties to even).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="value">The values.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(Vector256<float> value, ref T destination, nuint index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            value.StoreUnsafe(ref Unsafe.As<T, float>(ref destination), index);
        else if (typeof(T) == typeof(BFloat16))
            Narrow(BFloat16Conversions.RoundToNearestEven(value)).StoreUnsafe(ref Unsafe.As<T, ushort>(ref destination), index);
        else if (typeof(T) == typeof(Half))
            Narrow(HalfConversions.RoundToHalf(value)).StoreUnsafe(ref Unsafe.As<T, ushort>(ref destination), index);
        else
            throw Unsupported<T>();
    }

    /// <summary>Stores eight floats from <paramref name="index"/> on into a bfloat16 buffer, rounded stochastically (lane <c>j</c> with the bits of element <c>index + j</c> of <paramref name="bits"/>).</summary>
    /// <typeparam name="T">The storage type: bfloat16 (or float, stored as it is).</typeparam>
    /// <param name="value">The values.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    /// <param name="bits">The loop's random bits; their first index is the index of <paramref name="destination"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStochastic<T>(Vector256<float> value, ref T destination, nuint index, ref StochasticBits bits) where T : unmanaged
    {
        if (typeof(T) == typeof(BFloat16))
        {
            Vector256<uint> random = Widen(Vector128.LoadUnsafe(ref bits.At(index, 8)));
            Narrow(BFloat16Conversions.RoundStochastic(value, random)).StoreUnsafe(ref Unsafe.As<T, ushort>(ref destination), index);
        }
        else if (typeof(T) == typeof(float))
            Store(value, ref destination, index);
        else
            throw NoStochasticRounding<T>();
    }

    // ---------------------------------------------------------------- Vector128

    /// <summary>Four elements from <paramref name="index"/> on, as floats (exact).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="source">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    /// <returns>The values.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load128<T>(ref T source, nuint index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref source), index);
        if (typeof(T) == typeof(BFloat16))
            return BFloat16Conversions.ToSingle(Widen4(ref Unsafe.As<T, ushort>(ref source), index));
        if (typeof(T) == typeof(Half))
            return HalfConversions.ToSingle(Widen4(ref Unsafe.As<T, ushort>(ref source), index));
        throw Unsupported<T>();
    }

    /// <summary>Stores four floats from <paramref name="index"/> on, rounded to nearest (ties to even).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="value">The values.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(Vector128<float> value, ref T destination, nuint index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            value.StoreUnsafe(ref Unsafe.As<T, float>(ref destination), index);
        else if (typeof(T) == typeof(BFloat16))
            Narrow4(BFloat16Conversions.RoundToNearestEven(value), ref Unsafe.As<T, ushort>(ref destination), index);
        else if (typeof(T) == typeof(Half))
            Narrow4(HalfConversions.RoundToHalf(value), ref Unsafe.As<T, ushort>(ref destination), index);
        else
            throw Unsupported<T>();
    }

    /// <summary>Stores four floats from <paramref name="index"/> on into a bfloat16 buffer, rounded stochastically (lane <c>j</c> with the bits of element <c>index + j</c> of <paramref name="bits"/>).</summary>
    /// <typeparam name="T">The storage type: bfloat16 (or float, stored as it is).</typeparam>
    /// <param name="value">The values.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    /// <param name="bits">The loop's random bits; their first index is the index of <paramref name="destination"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStochastic<T>(Vector128<float> value, ref T destination, nuint index, ref StochasticBits bits) where T : unmanaged
    {
        if (typeof(T) == typeof(BFloat16))
        {
            Vector128<uint> random = Widen4(ref bits.At(index, 4), 0);
            Narrow4(BFloat16Conversions.RoundStochastic(value, random), ref Unsafe.As<T, ushort>(ref destination), index);
        }
        else if (typeof(T) == typeof(float))
            Store(value, ref destination, index);
        else
            throw NoStochasticRounding<T>();
    }

    // ---------------------------------------------------------------- Vector64 (half vectors of a rule that mixes float and double)

    /// <summary>Two elements from <paramref name="index"/> on, as floats (exact).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="source">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    /// <returns>The values.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector64<float> Load64<T>(ref T source, nuint index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector64.LoadUnsafe(ref Unsafe.As<T, float>(ref source), index);
        return Vector64.Create(Load(ref Unsafe.Add(ref source, index), 0), Load(ref Unsafe.Add(ref source, index), 1));
    }

    /// <summary>Stores two floats from <paramref name="index"/> on, rounded to nearest (ties to even).</summary>
    /// <typeparam name="T">The storage type.</typeparam>
    /// <param name="value">The values.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(Vector64<float> value, ref T destination, nuint index) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            value.StoreUnsafe(ref Unsafe.As<T, float>(ref destination), index);
            return;
        }
        Store(value.GetElement(0), ref Unsafe.Add(ref destination, index), 0);
        Store(value.GetElement(1), ref Unsafe.Add(ref destination, index), 1);
    }

    /// <summary>Stores two floats from <paramref name="index"/> on into a bfloat16 buffer, rounded stochastically (lane <c>j</c> with the bits of element <c>index + j</c> of <paramref name="bits"/>).</summary>
    /// <typeparam name="T">The storage type: bfloat16 (or float, stored as it is).</typeparam>
    /// <param name="value">The values.</param>
    /// <param name="destination">The buffer's first element.</param>
    /// <param name="index">The first element's index.</param>
    /// <param name="bits">The loop's random bits; their first index is the index of <paramref name="destination"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStochastic<T>(Vector64<float> value, ref T destination, nuint index, ref StochasticBits bits) where T : unmanaged
    {
        StoreStochastic(value.GetElement(0), ref destination, (int)index, ref bits);
        StoreStochastic(value.GetElement(1), ref destination, (int)index + 1, ref bits);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Sixteen 16-bit patterns, one per 32-bit lane (zero-extended: VPMOVZXWD).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Widen(Vector256<ushort> bits) =>
        Avx512F.IsSupported ? Avx512F.ConvertToVector512UInt32(bits) : Vector512.WidenLower(bits.ToVector512Unsafe());

    /// <summary>Eight 16-bit patterns, one per 32-bit lane (zero-extended).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Widen(Vector128<ushort> bits) =>
        Avx2.IsSupported ? Avx2.ConvertToVector256Int32(bits).AsUInt32() : Vector256.WidenLower(bits.ToVector256Unsafe());

    /// <summary>Four 16-bit patterns read from memory (8 bytes), one per 32-bit lane (zero-extended).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Widen4(ref ushort source, nuint index)
    {
        ulong four = Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<ushort, byte>(ref Unsafe.Add(ref source, index)));
        return Vector128.WidenLower(Vector128.CreateScalarUnsafe(four).AsUInt16());
    }

    /// <summary>The low 16 bits of each lane (each lane holds a 16-bit pattern: VPMOVDW).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ushort> Narrow(Vector512<uint> lanes) =>
        Avx512F.IsSupported ? Avx512F.ConvertToVector256UInt16(lanes) : Vector512.Narrow(lanes, lanes).GetLower();

    /// <summary>The low 16 bits of each lane (each lane holds a 16-bit pattern).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ushort> Narrow(Vector256<uint> lanes) => Vector128.Narrow(lanes.GetLower(), lanes.GetUpper());

    /// <summary>Writes the low 16 bits of each of four lanes to memory (8 bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Narrow4(Vector128<uint> lanes, ref ushort destination, nuint index) =>
        Unsafe.WriteUnaligned(ref Unsafe.As<ushort, byte>(ref Unsafe.Add(ref destination, index)), Vector128.Narrow(lanes, lanes).AsUInt64().ToScalar());

    private static NotSupportedException Unsupported<T>() =>
        new($"Buffers of {typeof(T)} cannot be stepped: the storage types are float, Kernels.Precision.BFloat16 and System.Half.");

    private static NotSupportedException NoStochasticRounding<T>() =>
        new($"Stochastic rounding is implemented for Kernels.Precision.BFloat16 parameters only, not {typeof(T)}.");
}

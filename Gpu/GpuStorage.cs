using System;
using System.ComponentModel;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using Kernels.Precision;
using Half = System.Half;

namespace Kernels.Gpu;

/// <summary>
/// How a storage kernel reads and writes one buffer's elements: widened to float as they are loaded, rounded back
/// as they are stored. Implemented by empty structs (<see cref="GpuStorage.SingleStorage"/>,
/// <see cref="GpuStorage.BFloat16Storage"/>, <see cref="GpuStorage.HalfStorage"/>) that a generated kernel takes as
/// type arguments and calls on <c>default</c>, as ILGPU.Algorithms does with its operation structs: ILGPU compiles
/// each instantiation with the calls resolved, so no test of the element type reaches the device (ILGPU cannot
/// compile <c>typeof(T) == typeof(…)</c>).
/// </summary>
/// <typeparam name="T">The element type of the view: <see cref="float"/>, <see cref="BFloat16"/> or <see cref="Half"/>.</typeparam>
/// <remarks>Used by generated code; not meant to be called by hand.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IGpuStorage<T> where T : unmanaged
{
    /// <summary>Element <paramref name="index"/> of <paramref name="view"/> as a float (exact).</summary>
    float Load(ArrayView<T> view, int index);

    /// <summary>Stores <paramref name="value"/> as element <paramref name="index"/>, rounded to nearest (ties to even).</summary>
    void Store(ArrayView<T> view, int index, float value);

    /// <summary>
    /// Stores <paramref name="value"/> as element <paramref name="index"/> of a parameter view, rounded stochastically with
    /// the random bits of element <c>rounding.FirstIndex + index</c> where the type has stochastic rounding (bfloat16);
    /// a float is stored as it is. The launchers never ask it of a <see cref="Half"/> view (they throw first).
    /// </summary>
    void StoreStochastic(ArrayView<T> view, int index, float value, GpuRounding rounding);
}

/// <summary>
/// A storage step's stochastic rounding as a kernel argument: <see cref="StochasticRounding"/>'s seed, step and first
/// index, and whether it applies (an int: kernel arguments must be blittable), set only for a bfloat16 parameter.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct GpuRounding
{
    private readonly int _enabled;

    private GpuRounding(ulong seed, ulong step, ulong firstIndex)
    {
        Seed = seed;
        Step = step;
        FirstIndex = firstIndex;
        _enabled = 1;
    }

    /// <summary>The stream's key.</summary>
    public ulong Seed { get; }

    /// <summary>The step counter.</summary>
    public ulong Step { get; }

    /// <summary>The index of the launch's element 0 in the stream.</summary>
    public ulong FirstIndex { get; }

    /// <summary>Whether the parameter is rounded stochastically.</summary>
    public bool IsEnabled
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _enabled != 0;
    }

    /// <summary>
    /// The rounding a launch with a <typeparamref name="TParam"/> parameter applies: <paramref name="rounding"/> for a bfloat16
    /// parameter, none for any other (a float parameter is not rounded; the launchers refuse it for a <see cref="Half"/> one).
    /// </summary>
    /// <typeparam name="TParam">The parameter's element type.</typeparam>
    /// <param name="rounding">The caller's rounding.</param>
    public static GpuRounding For<TParam>(in StochasticRounding rounding) =>
        rounding.IsEnabled && typeof(TParam) == typeof(BFloat16) ? new(rounding.Seed, rounding.Step, rounding.FirstIndex) : default;
}

/// <summary>
/// The device side of the GPU storage kernels (<c>Step&lt;TParam, TGrad, TState&gt;(stream, ArrayView&lt;TParam&gt; …)</c>):
/// the conversions between float and the 16-bit storage formats, with exactly the bits of the CPU's
/// (<c>(float)b</c>, <c>(BFloat16)f</c>, <c>(float)h</c>, <c>(Half)f</c>, NaN payloads and signs included), written
/// with integer operations only so that no device's float mode (flushing subnormals, canonical NaNs) can change them;
/// the storage structs the kernels take as type arguments; and the host helpers of the generated launchers.
/// </summary>
/// <remarks>
/// Every method is ordinary .NET code that ILGPU compiles as it is (bit casts through <see cref="Interop"/>, which
/// ILGPU maps to register moves), so the CPU accelerator runs the same code as a GPU.
/// </remarks>
public static class GpuStorage
{
    // ---------------------------------------------------------------- bfloat16

    /// <summary><c>(float)b</c> for the bfloat16 with bits <paramref name="bits"/>: exact (the bits shifted into the high half).</summary>
    /// <param name="bits">Any 16-bit pattern.</param>
    /// <returns>The float with the same value (a NaN keeps its payload).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BFloat16ToSingle(ushort bits) => Interop.IntAsFloat((uint)bits << 16);

    /// <summary>
    /// <c>(BFloat16)value</c>'s bits: round to nearest, ties to even, on the bit pattern (a carry into the exponent
    /// gives ±∞ above the largest bfloat16; subnormals are kept); a NaN keeps its sign and top payload bits and is made
    /// quiet — as <see cref="BFloat16"/>'s conversion does.
    /// </summary>
    /// <param name="value">Any float.</param>
    /// <returns>The bfloat16 bit pattern.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToBFloat16(float value)
    {
        uint bits = Interop.FloatAsInt(value);
        if ((bits & 0x7FFF_FFFFu) > 0x7F80_0000u)
            return (ushort)((bits >> 16) | 0x0040u);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    /// <summary>
    /// <see cref="BFloat16.RoundStochastic"/>'s bits: adds the low 16 bits of <paramref name="random16"/> to the 16 bits bfloat16
    /// drops, then truncates; a NaN as in <see cref="SingleToBFloat16"/>. (<see cref="BFloat16.RoundStochastic"/> itself does
    /// not compile for a GPU: ILGPU 1.5 has no <c>BitConverter.SingleToUInt32Bits</c>, whose .NET 10 body is <c>Unsafe.BitCast</c>.)
    /// </summary>
    /// <param name="value">Any float.</param>
    /// <param name="random16">Random bits; only the low 16 are used.</param>
    /// <returns>The bfloat16 bit pattern.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToBFloat16Stochastic(float value, uint random16)
    {
        uint bits = Interop.FloatAsInt(value);
        if ((bits & 0x7FFF_FFFFu) > 0x7F80_0000u)
            return (ushort)((bits >> 16) | 0x0040u);
        return (ushort)((bits + (random16 & 0xFFFFu)) >> 16);
    }

    // ---------------------------------------------------------------- fp16

    /// <summary>
    /// <c>(float)h</c> for the half with bits <paramref name="bits"/>: exact. A NaN keeps its sign and payload (shifted
    /// into place) and is made quiet, as .NET's conversion does.
    /// </summary>
    /// <param name="bits">Any 16-bit pattern.</param>
    /// <returns>The float with the same value.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalfToSingle(ushort bits)
    {
        uint sign = (uint)(bits & 0x8000) << 16;
        uint shifted = (uint)(bits & 0x7FFF) << 13;   // exponent and fraction in float position
        uint result;
        if (shifted >= 0x0F80_0000u)
            result = shifted | 0x7F80_0000u | (shifted > 0x0F80_0000u ? 0x0040_0000u : 0u);   // ±∞; NaN made quiet
        else if (shifted >= 0x0080_0000u)
            result = shifted + 0x3800_0000u;                                                    // normal: rebias the exponent
        else if (shifted == 0)
            result = 0;                                                                          // ±0
        else
            result = Interop.FloatAsInt((float)(bits & 0x03FF)) - (24u << 23);                    // subnormal m·2^-24: (float)m is exact, then 24 binades down
        return Interop.IntAsFloat(result | sign);
    }

    /// <summary>
    /// <c>(Half)value</c>'s bits: round to nearest, ties to even; from 65520 up ±∞; below 2^-14 a subnormal multiple of
    /// 2^-24 (never flushed); a NaN keeps its sign and top 10 payload bits and is made quiet — .NET's conversion.
    /// </summary>
    /// <param name="value">Any float.</param>
    /// <returns>The half bit pattern.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToHalf(float value)
    {
        uint bits = Interop.FloatAsInt(value);
        uint sign = (bits & 0x8000_0000u) >> 16;
        uint abs = bits & 0x7FFF_FFFFu;
        uint result;
        if (abs > 0x7F80_0000u)
        {
            result = 0x7E00u | ((abs >> 13) & 0x03FFu);                          // NaN: quiet, top payload bits
        }
        else if (abs >= 0x477F_F000u)
        {
            result = 0x7C00u;                                                     // 65520 and up (∞ included): ∞
        }
        else if (abs >= 0x3880_0000u)
        {
            result = (abs - 0x3800_0000u + 0x0FFFu + ((abs >> 13) & 1u)) >> 13;   // normal: rebias, round the 13 dropped bits
        }
        else
        {
            // Below 2^-14: the subnormal k·2^-24 nearest to m·2^(e-150) is m·2^(e-126) rounded, a right shift by 126 - e
            // (at least 14); from 25 places on the value is below half the smallest step and gives 0.
            uint exponent = abs >> 23;
            uint significand = (abs & 0x007F_FFFFu) | (exponent != 0 ? 0x0080_0000u : 0u);
            int shift = 126 - (int)(exponent != 0 ? exponent : 1u);
            result = shift > 24 ? 0u : (significand + (1u << (shift - 1)) - 1u + ((significand >> shift) & 1u)) >> shift;
        }
        return (ushort)(result | sign);
    }

    // ---------------------------------------------------------------- storage structs

    /// <summary>A buffer of floats: loaded and stored as they are.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct SingleStorage : IGpuStorage<float>
    {
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Load(ArrayView<float> view, int index) => view[index];

        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(ArrayView<float> view, int index, float value) => view[index] = value;

        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void StoreStochastic(ArrayView<float> view, int index, float value, GpuRounding rounding) => view[index] = value;
    }

    /// <summary>A buffer of bfloat16 values.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct BFloat16Storage : IGpuStorage<BFloat16>
    {
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Load(ArrayView<BFloat16> view, int index) => BFloat16ToSingle(view.Cast<ushort>()[index]);

        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(ArrayView<BFloat16> view, int index, float value) => view.Cast<ushort>()[index] = SingleToBFloat16(value);

        /// <inheritdoc/>
        /// <remarks>The bits come from <see cref="RandomStream.Bits16"/> itself, which ILGPU compiles as it is: the CPU's stream, whatever its layout.</remarks>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void StoreStochastic(ArrayView<BFloat16> view, int index, float value, GpuRounding rounding) =>
            view.Cast<ushort>()[index] = SingleToBFloat16Stochastic(value, RandomStream.Bits16(rounding.Seed, rounding.Step, unchecked(rounding.FirstIndex + (ulong)index)));
    }

    /// <summary>A buffer of fp16 values (<see cref="Half"/>).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct HalfStorage : IGpuStorage<Half>
    {
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Load(ArrayView<Half> view, int index) => HalfToSingle(view.Cast<ushort>()[index]);

        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(ArrayView<Half> view, int index, float value) => view.Cast<ushort>()[index] = SingleToHalf(value);

        /// <inheritdoc/>
        /// <remarks>fp16 has no stochastic rounding here: the launchers throw before launching; rounded to nearest should it be reached.</remarks>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void StoreStochastic(ArrayView<Half> view, int index, float value, GpuRounding rounding) => Store(view, index, value);
    }

    // ---------------------------------------------------------------- host helpers of the generated launchers

    /// <summary>The storage struct of an element type: <see cref="SingleStorage"/>, <see cref="BFloat16Storage"/> or <see cref="HalfStorage"/>.</summary>
    /// <param name="element">float, <see cref="BFloat16"/> or <see cref="Half"/>.</param>
    /// <exception cref="NotSupportedException">Any other type.</exception>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static Type StorageOf(Type element) =>
        element == typeof(float) ? typeof(SingleStorage)
        : element == typeof(BFloat16) ? typeof(BFloat16Storage)
        : element == typeof(Half) ? typeof(HalfStorage)
        : throw new NotSupportedException($"Buffers of {element} cannot be stepped: the storage types are float, Kernels.Precision.BFloat16 and System.Half.");

    /// <summary>
    /// A generated storage kernel's instantiation for the element types <paramref name="elements"/>: its type parameters
    /// come in pairs, each element type followed by its storage struct.
    /// </summary>
    /// <param name="kernel">The generic kernel method.</param>
    /// <param name="elements">One element type per storage group (parameter, read-only buffers, state).</param>
    /// <returns>The closed kernel ILGPU compiles.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static MethodInfo Instantiate(MethodInfo kernel, params Type[] elements)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        var arguments = new Type[elements.Length * 2];
        for (int i = 0; i < elements.Length; i++)
        {
            arguments[2 * i] = elements[i];
            arguments[2 * i + 1] = StorageOf(elements[i]);
        }
        return kernel.MakeGenericMethod(arguments);
    }

    /// <summary>A view of floats as its own type (the generic launcher forwarding an all-float call to the float launcher).</summary>
    /// <typeparam name="T">float, checked by the caller.</typeparam>
    [EditorBrowsable(EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ArrayView<float> AsSingles<T>(ArrayView<T> view) where T : unmanaged => view.Cast<float>();
}

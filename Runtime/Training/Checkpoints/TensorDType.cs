using System;

namespace Kernels.Training.Checkpoints;

/// <summary>The element types a safetensors file can hold (its <c>dtype</c> field), stored little-endian.</summary>
/// <remarks>
/// The byte-sized and wider types of the format. Sub-byte types (<c>F4</c>, <c>F6_*</c>) and types newer than
/// these are rejected by the reader as unknown.
/// </remarks>
public enum TensorDType
{
    /// <summary><c>BOOL</c>: one byte per element, 0 or 1.</summary>
    Bool,

    /// <summary><c>U8</c>: unsigned 8-bit integer.</summary>
    UInt8,

    /// <summary><c>I8</c>: signed 8-bit integer.</summary>
    Int8,

    /// <summary><c>F8_E5M2</c>: 8-bit float, 5 exponent and 2 mantissa bits (raw bytes).</summary>
    Float8E5M2,

    /// <summary><c>F8_E4M3</c>: 8-bit float, 4 exponent and 3 mantissa bits (raw bytes).</summary>
    Float8E4M3,

    /// <summary><c>I16</c>: signed 16-bit integer.</summary>
    Int16,

    /// <summary><c>U16</c>: unsigned 16-bit integer.</summary>
    UInt16,

    /// <summary><c>F16</c>: IEEE half precision (<see cref="Half"/>).</summary>
    Float16,

    /// <summary><c>BF16</c>: bfloat16, the high 16 bits of a <see cref="float"/> (read as raw <see cref="ushort"/> bits).</summary>
    BFloat16,

    /// <summary><c>I32</c>: signed 32-bit integer.</summary>
    Int32,

    /// <summary><c>U32</c>: unsigned 32-bit integer.</summary>
    UInt32,

    /// <summary><c>F32</c>: IEEE single precision.</summary>
    Float32,

    /// <summary><c>I64</c>: signed 64-bit integer.</summary>
    Int64,

    /// <summary><c>U64</c>: unsigned 64-bit integer.</summary>
    UInt64,

    /// <summary><c>F64</c>: IEEE double precision.</summary>
    Float64,
}

/// <summary>Facts about <see cref="TensorDType"/>: element size and the name the safetensors header uses.</summary>
public static class TensorDTypes
{
    /// <summary>The number of bytes one element occupies.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined value.</exception>
    public static int SizeOf(TensorDType dtype) => dtype switch
    {
        TensorDType.Bool or TensorDType.UInt8 or TensorDType.Int8 or TensorDType.Float8E5M2 or TensorDType.Float8E4M3 => 1,
        TensorDType.Int16 or TensorDType.UInt16 or TensorDType.Float16 or TensorDType.BFloat16 => 2,
        TensorDType.Int32 or TensorDType.UInt32 or TensorDType.Float32 => 4,
        TensorDType.Int64 or TensorDType.UInt64 or TensorDType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a tensor dtype."),
    };

    /// <summary>The <c>dtype</c> string of the safetensors header (<c>"F32"</c>, <c>"BF16"</c>, …).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined value.</exception>
    public static string ToSafeTensorsName(TensorDType dtype) => dtype switch
    {
        TensorDType.Bool => "BOOL",
        TensorDType.UInt8 => "U8",
        TensorDType.Int8 => "I8",
        TensorDType.Float8E5M2 => "F8_E5M2",
        TensorDType.Float8E4M3 => "F8_E4M3",
        TensorDType.Int16 => "I16",
        TensorDType.UInt16 => "U16",
        TensorDType.Float16 => "F16",
        TensorDType.BFloat16 => "BF16",
        TensorDType.Int32 => "I32",
        TensorDType.UInt32 => "U32",
        TensorDType.Float32 => "F32",
        TensorDType.Int64 => "I64",
        TensorDType.UInt64 => "U64",
        TensorDType.Float64 => "F64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a tensor dtype."),
    };

    /// <summary>Parses a safetensors <c>dtype</c> string (case-sensitive, as the format spells it).</summary>
    /// <returns>Whether <paramref name="name"/> names a supported dtype.</returns>
    public static bool TryParseSafeTensorsName(string name, out TensorDType dtype)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (TensorDType candidate in Enum.GetValues<TensorDType>())
        {
            if (ToSafeTensorsName(candidate) == name)
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    /// <summary>Whether <typeparamref name="T"/> is a .NET type whose values are elements of <paramref name="dtype"/>.</summary>
    /// <remarks>
    /// Each dtype reads as its own .NET type (<c>F32</c> as <see cref="float"/>, <c>I64</c> as <see cref="long"/>, <c>F16</c>
    /// as <see cref="Half"/>, …); the types without one read as raw bits: <c>BF16</c> as <see cref="ushort"/>, <c>BOOL</c>
    /// and the 8-bit floats as <see cref="byte"/>. <c>F16</c> may also be read as raw <see cref="ushort"/> bits.
    /// </remarks>
    public static bool IsElementType<T>(TensorDType dtype) where T : unmanaged => dtype switch
    {
        TensorDType.Bool or TensorDType.UInt8 or TensorDType.Float8E5M2 or TensorDType.Float8E4M3 => typeof(T) == typeof(byte),
        TensorDType.Int8 => typeof(T) == typeof(sbyte),
        TensorDType.Int16 => typeof(T) == typeof(short),
        TensorDType.UInt16 or TensorDType.BFloat16 => typeof(T) == typeof(ushort),
        TensorDType.Float16 => typeof(T) == typeof(Half) || typeof(T) == typeof(ushort),
        TensorDType.Int32 => typeof(T) == typeof(int),
        TensorDType.UInt32 => typeof(T) == typeof(uint),
        TensorDType.Float32 => typeof(T) == typeof(float),
        TensorDType.Int64 => typeof(T) == typeof(long),
        TensorDType.UInt64 => typeof(T) == typeof(ulong),
        TensorDType.Float64 => typeof(T) == typeof(double),
        _ => false,
    };

    /// <summary>The dtype whose own .NET element type is <typeparamref name="T"/> (see <see cref="IsElementType{T}"/>).</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> has no dtype of its own (<see cref="ushort"/> is <c>U16</c>; name <c>BF16</c> explicitly).</exception>
    public static TensorDType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return TensorDType.Float32;
        if (typeof(T) == typeof(double)) return TensorDType.Float64;
        if (typeof(T) == typeof(long)) return TensorDType.Int64;
        if (typeof(T) == typeof(int)) return TensorDType.Int32;
        if (typeof(T) == typeof(byte)) return TensorDType.UInt8;
        if (typeof(T) == typeof(sbyte)) return TensorDType.Int8;
        if (typeof(T) == typeof(short)) return TensorDType.Int16;
        if (typeof(T) == typeof(ushort)) return TensorDType.UInt16;
        if (typeof(T) == typeof(uint)) return TensorDType.UInt32;
        if (typeof(T) == typeof(ulong)) return TensorDType.UInt64;
        if (typeof(T) == typeof(Half)) return TensorDType.Float16;
        throw new NotSupportedException($"{typeof(T).Name} is not a tensor element type.");
    }
}

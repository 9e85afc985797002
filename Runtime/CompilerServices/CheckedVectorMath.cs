using System;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels.CompilerServices;

/// <summary>
/// Vector forms of the per-element functions whose scalar form can throw, so the generated loop throws
/// exactly where the scalar rule would: <see cref="Math.Sign(float)"/> throws <see cref="ArithmeticException"/>
/// on NaN and <see cref="Math.Clamp(float, float, float)"/> throws <see cref="ArgumentException"/> when
/// <c>min &gt; max</c> (<see cref="float.Clamp"/> likewise, but computes <c>Min(Max(value, min), max)</c>). <c>active</c> holds all-ones in the lanes the rule evaluates the call for (a per-element
/// <c>if</c> or <c>?:</c> arm leaves the others out); only those lanes can throw.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class CheckedVectorMath
{
    /// <summary><see cref="Math.Sign(float)"/> per lane as a number: 1, -1 or 0; throws if an active lane is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sign<T>(Vector512<T> x, Vector512<T> active)
    {
        if (((~Vector512.Equals(x, x)) & active) != Vector512<T>.Zero)
            ThrowNaN();
        return Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<T>.Zero), Vector512<T>.One,
            Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<T>.Zero), -Vector512<T>.One, Vector512<T>.Zero));
    }

    /// <inheritdoc cref="Sign{T}(Vector512{T}, Vector512{T})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sign<T>(Vector256<T> x, Vector256<T> active)
    {
        if (((~Vector256.Equals(x, x)) & active) != Vector256<T>.Zero)
            ThrowNaN();
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), Vector256<T>.One,
            Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<T>.Zero), -Vector256<T>.One, Vector256<T>.Zero));
    }

    /// <inheritdoc cref="Sign{T}(Vector512{T}, Vector512{T})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Sign<T>(Vector128<T> x, Vector128<T> active)
    {
        if (((~Vector128.Equals(x, x)) & active) != Vector128<T>.Zero)
            ThrowNaN();
        return Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<T>.Zero), Vector128<T>.One,
            Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<T>.Zero), -Vector128<T>.One, Vector128<T>.Zero));
    }

    /// <summary><see cref="Math.Clamp(float, float, float)"/> per lane (<c>value &lt; min ? min : value &gt; max ? max : value</c>); throws if an active lane has <c>min &gt; max</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Clamp<T>(Vector512<T> value, Vector512<T> min, Vector512<T> max, Vector512<T> active)
    {
        if ((Vector512.GreaterThan(min, max) & active) != Vector512<T>.Zero)
            ThrowMinMax();
        return Vector512.ConditionalSelect(Vector512.LessThan(value, min), min, Vector512.ConditionalSelect(Vector512.GreaterThan(value, max), max, value));
    }

    /// <summary><see cref="float.Clamp"/> per lane (<c>Min(Max(value, min), max)</c>: NaN anywhere gives NaN, +0 above -0); throws if an active lane has <c>min &gt; max</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> ClampNumber<T>(Vector512<T> value, Vector512<T> min, Vector512<T> max, Vector512<T> active)
    {
        if ((Vector512.GreaterThan(min, max) & active) != Vector512<T>.Zero)
            ThrowMinMax();
        return Vector512.Min(Vector512.Max(value, min), max);
    }

    /// <inheritdoc cref="Clamp{T}(Vector512{T}, Vector512{T}, Vector512{T}, Vector512{T})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Clamp<T>(Vector256<T> value, Vector256<T> min, Vector256<T> max, Vector256<T> active)
    {
        if ((Vector256.GreaterThan(min, max) & active) != Vector256<T>.Zero)
            ThrowMinMax();
        return Vector256.ConditionalSelect(Vector256.LessThan(value, min), min, Vector256.ConditionalSelect(Vector256.GreaterThan(value, max), max, value));
    }

    /// <summary><see cref="float.Clamp"/> per lane (<c>Min(Max(value, min), max)</c>: NaN anywhere gives NaN, +0 above -0); throws if an active lane has <c>min &gt; max</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> ClampNumber<T>(Vector256<T> value, Vector256<T> min, Vector256<T> max, Vector256<T> active)
    {
        if ((Vector256.GreaterThan(min, max) & active) != Vector256<T>.Zero)
            ThrowMinMax();
        return Vector256.Min(Vector256.Max(value, min), max);
    }

    /// <inheritdoc cref="Clamp{T}(Vector512{T}, Vector512{T}, Vector512{T}, Vector512{T})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Clamp<T>(Vector128<T> value, Vector128<T> min, Vector128<T> max, Vector128<T> active)
    {
        if ((Vector128.GreaterThan(min, max) & active) != Vector128<T>.Zero)
            ThrowMinMax();
        return Vector128.ConditionalSelect(Vector128.LessThan(value, min), min, Vector128.ConditionalSelect(Vector128.GreaterThan(value, max), max, value));
    }

    /// <summary><see cref="float.Clamp"/> per lane (<c>Min(Max(value, min), max)</c>: NaN anywhere gives NaN, +0 above -0); throws if an active lane has <c>min &gt; max</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> ClampNumber<T>(Vector128<T> value, Vector128<T> min, Vector128<T> max, Vector128<T> active)
    {
        if ((Vector128.GreaterThan(min, max) & active) != Vector128<T>.Zero)
            ThrowMinMax();
        return Vector128.Min(Vector128.Max(value, min), max);
    }

    // The scalar functions' own exceptions: same types, same kind of message.
    private static void ThrowNaN() => throw new ArithmeticException("Function does not accept floating point Not-a-Number values.");

    private static void ThrowMinMax() => throw new ArgumentException("'min' cannot be greater than 'max'.");
}

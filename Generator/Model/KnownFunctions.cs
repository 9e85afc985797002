using System.Collections.Generic;
using System.Linq;

namespace Kernels.Generator.Model;

/// <summary>What a known function returns per element.</summary>
internal enum KnownResult
{
    /// <summary>A value of its arguments' floating type.</summary>
    Argument,
    /// <summary>A bool: a mask over its argument's lanes.</summary>
    Mask,
    /// <summary>An int used as the floating type it converts to (<c>Math.Sign</c>).</summary>
    Int,
}

/// <summary>
/// One per-element function the generator knows: how the rule names it, and its scalar, vector and GPU
/// forms. A new per-element function is one row of <see cref="KnownFunctions.All"/>.
/// </summary>
/// <param name="Function">The IR's name for it.</param>
/// <param name="Name">The method name on <c>Math</c>, <c>MathF</c>, <c>float</c>, <c>double</c> (or <c>KernelMath</c>).</param>
/// <param name="Arity">Number of arguments, all of the one floating type.</param>
/// <param name="Result">What it returns.</param>
/// <param name="Vector">The vector form, from the vector type's statics (<c>global::System.Runtime.Intrinsics.Vector512</c>) and the printed arguments.</param>
/// <param name="Scalar">The method the scalar form calls; null: the rule's own method.</param>
/// <param name="Gpu">The method an ILGPU kernel calls (the rule's own method when null).</param>
/// <param name="Throws">Why the scalar form can throw (and the vector form must check the active lanes), or null.</param>
internal sealed record KnownFunction(
    Intrinsic Function,
    string Name,
    int Arity,
    KnownResult Result,
    System.Func<string, string[], string> Vector,
    string? Scalar = null,
    string? Gpu = null,
    string? Throws = null);

/// <summary>The table of per-element functions (ComputeSharp's known-methods table plays this role for HLSL).</summary>
internal static class KnownFunctions
{
    public const string GpuMath = "global::Kernels.Gpu.GpuMath";
    public const string CheckedVectorMath = "global::Kernels.CompilerServices.CheckedVectorMath";

    /// <summary>The types whose static methods of these names are recognized.</summary>
    public static bool IsMathType(string metadataName) =>
        metadataName is "System.Math" or "System.MathF" or "System.Single" or "System.Double" or KernelMathType;

    /// <summary>The runtime's own math (Exp, Log): a rule may call it to be bit-identical to its generated loops.</summary>
    public const string KernelMathType = "Kernels.KernelMath";

    private const string KernelMath = "global::Kernels.KernelMath";

    public static readonly IReadOnlyList<KnownFunction> All = new KnownFunction[]
    {
        // ILGPU maps Sqrt to the correctly rounded sqrt.rn, so the kernel calls the rule's own method.
        new(Intrinsic.Sqrt, "Sqrt", 1, KnownResult.Argument, (v, a) => $"{v}.Sqrt({a[0]})"),
        new(Intrinsic.Abs, "Abs", 1, KnownResult.Argument, (v, a) => $"{v}.Abs({a[0]})", Gpu: GpuMath + ".Abs"),
        // .NET's Max/Min: NaN if either is NaN, +0 above -0 (the vector forms agree); PTX max.f32 drops NaN, so the GPU calls GpuMath.
        new(Intrinsic.Max, "Max", 2, KnownResult.Argument, (v, a) => $"{v}.Max({a[0]}, {a[1]})", Gpu: GpuMath + ".Max"),
        new(Intrinsic.Min, "Min", 2, KnownResult.Argument, (v, a) => $"{v}.Min({a[0]}, {a[1]})", Gpu: GpuMath + ".Min"),
        new(Intrinsic.FusedMultiplyAdd, "FusedMultiplyAdd", 3, KnownResult.Argument, (v, a) => $"{v}.FusedMultiplyAdd({a[0]}, {a[1]}, {a[2]})", Gpu: GpuMath + ".FusedMultiplyAdd"),
        new(Intrinsic.CopySign, "CopySign", 2, KnownResult.Argument, (v, a) => $"{v}.CopySign({a[0]}, {a[1]})", Gpu: GpuMath + ".CopySign"),
        // One Exp/Log for every form (≤ 1 ulp, the same bits in the scalar tail, every vector width and on the GPU),
        // whichever of MathF/Math/float/double/KernelMath the rule called.
        new(Intrinsic.Exp, "Exp", 1, KnownResult.Argument, (v, a) => $"{KernelMath}.Exp({a[0]})", Scalar: KernelMath + ".Exp", Gpu: KernelMath + ".Exp"),
        new(Intrinsic.Log, "Log", 1, KnownResult.Argument, (v, a) => $"{KernelMath}.Log({a[0]})", Scalar: KernelMath + ".Log", Gpu: KernelMath + ".Log"),
        // Math.Clamp throws when min > max: the vector form checks the lanes the rule evaluates (a[3] is the active mask).
        new(Intrinsic.Clamp, "Clamp", 3, KnownResult.Argument, (v, a) => $"{CheckedVectorMath}.Clamp({a[0]}, {a[1]}, {a[2]}, {a[3]})", Gpu: GpuMath + ".Clamp",
            Throws: "Math.Clamp with min > max"),
        // float.Clamp / double.Clamp are Min(Max(value, min), max): NaN-propagating, unlike Math.Clamp (same exception).
        new(Intrinsic.ClampNumber, "ClampNumber", 3, KnownResult.Argument, (v, a) => $"{CheckedVectorMath}.ClampNumber({a[0]}, {a[1]}, {a[2]}, {a[3]})", Gpu: GpuMath + ".ClampNumber",
            Throws: "float.Clamp with min > max"),
        // Math.Sign throws on NaN: likewise checked on the active lanes.
        new(Intrinsic.Sign, "Sign", 1, KnownResult.Int, (v, a) => $"{CheckedVectorMath}.Sign({a[0]}, {a[1]})", Gpu: GpuMath + ".Sign",
            Throws: "Math.Sign of NaN"),
        new(Intrinsic.IsNaN, "IsNaN", 1, KnownResult.Mask, (v, a) => $"~{v}.Equals({a[0]}, {a[0]})"),
        // |x| < +inf is false for NaN and infinities: exactly IsFinite.
        new(Intrinsic.IsFinite, "IsFinite", 1, KnownResult.Mask, (v, a) => $"{v}.LessThan({v}.Abs({a[0]}), {v}.Create({a[1]}.PositiveInfinity))"),
        new(Intrinsic.IsInfinity, "IsInfinity", 1, KnownResult.Mask, (v, a) => $"{v}.Equals({v}.Abs({a[0]}), {v}.Create({a[1]}.PositiveInfinity))"),
        new(Intrinsic.IsPositiveInfinity, "IsPositiveInfinity", 1, KnownResult.Mask, (v, a) => $"{v}.Equals({a[0]}, {v}.Create({a[1]}.PositiveInfinity))"),
        new(Intrinsic.IsNegativeInfinity, "IsNegativeInfinity", 1, KnownResult.Mask, (v, a) => $"{v}.Equals({a[0]}, {v}.Create({a[1]}.NegativeInfinity))"),
    };

    private static readonly Dictionary<Intrinsic, KnownFunction> s_byFunction = All.ToDictionary(f => f.Function);
    private static readonly Dictionary<string, KnownFunction> s_byName = All.ToDictionary(f => f.Name);

    public static KnownFunction Of(Intrinsic function) => s_byFunction[function];

    public static KnownFunction? Named(string name) => s_byName.TryGetValue(name, out KnownFunction? f) ? f : null;

    /// <summary>Whether the function's value is a mask.</summary>
    public static bool ReturnsMask(Intrinsic function) => Of(function).Result == KnownResult.Mask;
}

using Kernels.Generator.Helpers;

namespace Kernels.Generator.Model;

/// <summary>
/// What a per-element value is: an element of the rule's type, a per-element bool (a vector mask over
/// the rule's lanes), or — in a rule that converts per element between float and double — a value
/// of the other floating type and a mask over its lanes.
/// </summary>
internal enum ValueKind
{
    Element,
    Mask,
    Other,
    OtherMask,
}

internal static class ValueKinds
{
    public static bool IsMask(this ValueKind kind) => kind is ValueKind.Mask or ValueKind.OtherMask;

    public static bool IsOther(this ValueKind kind) => kind is ValueKind.Other or ValueKind.OtherMask;

    /// <summary>The mask kind over the same lanes as <paramref name="kind"/>.</summary>
    public static ValueKind MaskOf(this ValueKind kind) => kind.IsOther() ? ValueKind.OtherMask : ValueKind.Mask;

    /// <summary>The C# element type of a kind in a rule over <paramref name="element"/> ("float" or "double").</summary>
    public static string ElementTypeOf(this ValueKind kind, string element) =>
        kind.IsOther() ? (element == "float" ? "double" : "float") : element;
}

internal enum UnaryOp
{
    Negate,
    Not,
}

internal enum BinaryOp
{
    Add,
    Subtract,
    Multiply,
    Divide,
    LessThan,
    LessThanOrEqual,
    GreaterThan,
    GreaterThanOrEqual,
    Equal,
    NotEqual,
    And,
    Or,
    Xor,
    /// <summary>
    /// <c>&amp;&amp;</c> with a per-element left operand: the rule evaluates the right operand only where the left is true,
    /// so a function of the right that can throw (<see cref="KnownFunction.Throws"/>) may only throw there. Without
    /// such a function it is printed as <see cref="And"/> (masks have no side effects to short-circuit).
    /// </summary>
    AndAlso,
    /// <summary><c>||</c> with a per-element left operand: the right operand is evaluated only where the left is false (see <see cref="AndAlso"/>).</summary>
    OrElse,
}

/// <summary>The per-element functions the emitters know (scalar, SIMD and GPU forms).</summary>
internal enum Intrinsic
{
    Sqrt,
    Abs,
    Max,
    Min,
    FusedMultiplyAdd,
    CopySign,
    Exp,
    Log,
    Clamp,
    ClampNumber,
    Sign,
    IsNaN,
    IsFinite,
    IsInfinity,
    IsPositiveInfinity,
    IsNegativeInfinity,
}

/// <summary>
/// A per-element expression of the lowered rule. Everything that depends only on uniform values has
/// already been hoisted out and appears here as a <see cref="UniformExpr"/>.
/// </summary>
internal abstract record ElementExpr(ValueKind Kind);

/// <summary>The current value of a per-element parameter or local.</summary>
internal sealed record ElementRefExpr(string Name, ValueKind Kind) : ElementExpr(Kind);

/// <summary>A hoisted, step-invariant value, broadcast to every element.</summary>
internal sealed record UniformExpr(string Name, ValueKind Kind) : ElementExpr(Kind);

internal sealed record UnaryExpr(UnaryOp Op, ElementExpr Operand, ValueKind Kind) : ElementExpr(Kind);

internal sealed record BinaryExpr(BinaryOp Op, ElementExpr Left, ElementExpr Right, ValueKind Kind) : ElementExpr(Kind);

/// <summary>A call of a known math function. <see cref="SourceName"/> is the method as the rule wrote it, fully qualified (the scalar form calls it).</summary>
internal sealed record CallExpr(Intrinsic Function, string SourceName, EquatableArray<ElementExpr> Arguments, ValueKind Kind) : ElementExpr(Kind);

/// <summary><c>condition ? whenTrue : whenFalse</c> with a per-element condition: a vector select.</summary>
internal sealed record SelectExpr(ElementExpr Condition, ElementExpr WhenTrue, ElementExpr WhenFalse, ValueKind Kind) : ElementExpr(Kind);

/// <summary>A per-element conversion between float and double (or between masks over their lanes).</summary>
internal sealed record ConvertExpr(ElementExpr Operand, ValueKind Kind) : ElementExpr(Kind);

/// <summary><c>condition ? whenTrue : whenFalse</c> with a hoisted bool condition: one branch per call, none per element.</summary>
internal sealed record UniformSelectExpr(string Condition, ElementExpr WhenTrue, ElementExpr WhenFalse, ValueKind Kind) : ElementExpr(Kind);

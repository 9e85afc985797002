using System.Linq;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// Prints element IR as C#, either scalar (the rule's own operations) or as vector operations of one
/// width (<c>Vector512</c>, <c>Vector256</c>, <c>Vector128</c>). Parentheses follow C# precedence and
/// keep the rule's evaluation order: floating-point math is not reassociated.
/// </summary>
internal sealed class ExpressionPrinter
{
    private readonly string? _vector;      // "Vector512", or null for scalar
    private readonly string _element;      // "float" / "double"
    private readonly System.Func<string, string> _condition;

    /// <param name="vector">"Vector512", "Vector256", "Vector128", or null for scalar code.</param>
    /// <param name="element">The rule's element type.</param>
    /// <param name="condition">How a hoisted bool that decides a branch is written (e.g. as a generic flag's <c>T.Value</c>).</param>
    /// <param name="uniformMask">The name of a hoisted bool's broadcast mask in vector code.</param>
    /// <param name="lanes">The lanes that hold elements (null: all); a mixed float/double rule's float vectors are half padding.</param>
    public ExpressionPrinter(string? vector, string element, System.Func<string, string>? condition = null, System.Func<string, string>? uniformMask = null, string? lanes = null)
    {
        _lanes = lanes;
        _vector = vector;
        _element = element;
        _condition = condition ?? (name => name);
        _uniformMask = uniformMask ?? (name => name + "Mask");
    }

    private readonly System.Func<string, string> _uniformMask;
    private readonly string? _lanes;

    public string Condition(string name) => _condition(name);

    private bool IsVector => _vector is not null;

    private string VectorTypeOf(ValueKind kind) => $"global::System.Runtime.Intrinsics.{_vector}<{kind.ElementTypeOf(_element)}>";

    private string VectorStatics => $"global::System.Runtime.Intrinsics.{_vector}";

    public string Print(ElementExpr expression) => Print(expression, out _);

    /// <summary>
    /// Prints with the lanes the rule evaluates this expression for (a vector mask's C# text over the rule's
    /// lanes; null: every lane). Only functions whose scalar form can throw look at it.
    /// </summary>
    public string Print(ElementExpr expression, string? activeMask)
    {
        string? saved = _active;
        _active = activeMask;
        try
        {
            return Print(expression, out _);
        }
        finally
        {
            _active = saved;
        }
    }

    private string? _active;

    // Precedence: 0 conditional, 1 ||, 2 &&, 3 |, 4 ^, 5 &, 6 equality, 7 relational, 8 additive, 9 multiplicative, 10 unary, 11 primary.
    private string Print(ElementExpr expression, out int precedence)
    {
        switch (expression)
        {
            case ElementRefExpr r:
                precedence = 11;
                return r.Name;

            case UniformExpr u:
                precedence = 11;
                // A hoisted bool: its broadcast mask in vector code; in scalar code itself, or its flag's constant.
                return IsVector && u.Kind == ValueKind.Mask ? _uniformMask(u.Name) : u.Kind.IsMask() ? _condition(u.Name) : u.Name;

            case UnaryExpr { Op: UnaryOp.Negate } u:
                precedence = 10;
                return "-" + WrapUnaryOperand(u.Operand, '-');

            case UnaryExpr { Op: UnaryOp.Not } u:
                precedence = 10;
                return (IsVector ? "~" : "!") + WrapUnaryOperand(u.Operand, IsVector ? '~' : '!');

            case BinaryExpr b:
                return PrintBinary(b, out precedence);

            case SelectExpr s:
                if (IsVector)
                {
                    precedence = 11;
                    string condition = Print(s.Condition);
                    if (!ContainsThrowingCall(s.WhenTrue) && !ContainsThrowingCall(s.WhenFalse))
                        return $"{VectorStatics}.ConditionalSelect({condition}, {Print(s.WhenTrue)}, {Print(s.WhenFalse)})";
                    // An arm that can throw may only throw in the lanes that select it, as the scalar `?:` evaluates one arm.
                    string active = _active ?? _lanes ?? $"{VectorTypeOf(ValueKind.Element)}.AllBitsSet";
                    string laneCondition = s.Condition.Kind == ValueKind.Mask ? condition : Convert(condition, s.Condition.Kind, ValueKind.Mask);
                    string whenTrue = Print(s.WhenTrue, $"({active} & ({laneCondition}))");
                    string whenFalse = Print(s.WhenFalse, $"{VectorStatics}.AndNot({active}, {laneCondition})");
                    return $"{VectorStatics}.ConditionalSelect({condition}, {whenTrue}, {whenFalse})";
                }
                precedence = 0;
                return $"{Wrap(s.Condition, 1, false)} ? {Wrap(s.WhenTrue, 0, false)} : {Wrap(s.WhenFalse, 0, false)}";

            case UniformSelectExpr s:
                precedence = 0;
                return $"{_condition(s.Condition)} ? {Wrap(s.WhenTrue, 0, false)} : {Wrap(s.WhenFalse, 0, false)}";

            case CallExpr c when IsVector:
                precedence = 11;
                return PrintVectorCall(c);

            case CallExpr c when KnownFunctions.Of(c.Function).Result == KnownResult.Int:
                // Sign returns int and the IR types it as the floating value it converts to: the cast is printed, or
                // an enclosing negation would negate the int and give +0 where the rule's -(float)Sign(0) is -0.
                precedence = 10;
                return $"({c.Kind.ElementTypeOf(_element)}){c.SourceName}({string.Join(", ", c.Arguments.Select(a => Print(a)))})";

            case CallExpr c:
                precedence = 11;
                return $"{c.SourceName}({string.Join(", ", c.Arguments.Select(a => Print(a)))})";

            case ConvertExpr c when !IsVector:
                if (c.Kind.IsMask())
                    return Print(c.Operand, out precedence);
                precedence = 10;
                return $"({c.Kind.ElementTypeOf(_element)}){Wrap(c.Operand, 10, strictlyAbove: false)}";

            case ConvertExpr c:
                precedence = 11;
                return Convert(Print(c.Operand), c.Operand.Kind, c.Kind);

            default:
                precedence = 11;
                return "/* unknown */ default";
        }
    }

    private string PrintBinary(BinaryExpr b, out int precedence)
    {
        if (b.Op is BinaryOp.AndAlso or BinaryOp.OrElse)
            return PrintShortCircuit(b, out precedence);

        if (IsVector && b.Op is >= BinaryOp.LessThan and <= BinaryOp.NotEqual)
        {
            precedence = 11;
            string l = Print(b.Left), r = Print(b.Right);
            return b.Op switch
            {
                BinaryOp.LessThan => $"{VectorStatics}.LessThan({l}, {r})",
                BinaryOp.LessThanOrEqual => $"{VectorStatics}.LessThanOrEqual({l}, {r})",
                BinaryOp.GreaterThan => $"{VectorStatics}.GreaterThan({l}, {r})",
                BinaryOp.GreaterThanOrEqual => $"{VectorStatics}.GreaterThanOrEqual({l}, {r})",
                BinaryOp.Equal => $"{VectorStatics}.Equals({l}, {r})",
                _ => $"~{VectorStatics}.Equals({l}, {r})",
            };
        }

        (string op, int p) = b.Op switch
        {
            BinaryOp.Add => ("+", 8),
            BinaryOp.Subtract => ("-", 8),
            BinaryOp.Multiply => ("*", 9),
            BinaryOp.Divide => ("/", 9),
            BinaryOp.LessThan => ("<", 7),
            BinaryOp.LessThanOrEqual => ("<=", 7),
            BinaryOp.GreaterThan => (">", 7),
            BinaryOp.GreaterThanOrEqual => (">=", 7),
            BinaryOp.Equal => ("==", 6),
            BinaryOp.NotEqual => ("!=", 6),
            // Masks are combined bitwise in both forms (a short circuit whose right operand cannot throw comes here too: it has no side effect to skip).
            BinaryOp.And => ("&", 5),
            BinaryOp.Xor => ("^", 4),
            _ => ("|", 3),
        };
        precedence = p;
        // Left-associative: an equal-precedence right operand keeps its parentheses, so `a - (b - c)`
        // and `a + (b + c)` are never reassociated.
        return $"{Wrap(b.Left, p, strictlyAbove: false)} {op} {Wrap(b.Right, p, strictlyAbove: true)}";
    }

    /// <summary>
    /// <c>left &amp;&amp; right</c> / <c>left || right</c> with a per-element left. When the right operand calls a function that can
    /// throw, the scalar form keeps the rule's own operator and the vector form checks that function only on the lanes the
    /// left leaves undecided (<c>active &amp; left</c> for <c>&amp;&amp;</c>, <c>AndNot(active, left)</c> for <c>||</c>); the value is the
    /// bitwise combination either way (exact: the right operand's lanes the left decides are discarded). Otherwise both
    /// forms are the cheap bitwise <c>&amp;</c> / <c>|</c>.
    /// </summary>
    private string PrintShortCircuit(BinaryExpr b, out int precedence)
    {
        bool and = b.Op == BinaryOp.AndAlso;
        if (!ContainsThrowingCall(b.Right))
            return PrintBinary(b with { Op = and ? BinaryOp.And : BinaryOp.Or }, out precedence);
        if (!IsVector)
        {
            precedence = and ? 2 : 1;
            return $"{Wrap(b.Left, precedence, strictlyAbove: false)} {(and ? "&&" : "||")} {Wrap(b.Right, precedence, strictlyAbove: true)}";
        }

        precedence = and ? 5 : 3;
        string left = Wrap(b.Left, precedence, strictlyAbove: false);
        // The lanes the whole expression is evaluated for (null: all), narrowed to those the left leaves undecided.
        string? active = _active ?? _lanes;
        string leftMask = Print(b.Left);
        string undecided = and
            ? active is null ? $"({leftMask})" : $"({active} & ({leftMask}))"
            : active is null ? $"~({leftMask})" : $"{VectorStatics}.AndNot({active}, {leftMask})";
        string? saved = _active;
        _active = undecided;
        try
        {
            return $"{left} {(and ? "&" : "|")} {Wrap(b.Right, precedence, strictlyAbove: true)}";
        }
        finally
        {
            _active = saved;
        }
    }

    /// <summary>The operand of a prefix operator: parenthesized when it begins with an operator itself (<c>-(-g)</c>, never <c>--g</c>).</summary>
    private string WrapUnaryOperand(ElementExpr operand, char op)
    {
        string text = Wrap(operand, 10, strictlyAbove: false);
        return text.Length > 0 && (text[0] is '-' or '+' or '!' or '~' || text[0] == op) ? "(" + text + ")" : text;
    }

    private static bool ContainsThrowingCall(ElementExpr expression) =>
        Lowering.Ir.Expressions(expression).Any(e => e is CallExpr c && KnownFunctions.Of(c.Function).Throws is not null);

    private string Wrap(ElementExpr expression, int parent, bool strictlyAbove)
    {
        string text = Print(expression, out int precedence);
        bool needs = strictlyAbove ? precedence <= parent : precedence < parent;
        return needs ? "(" + text + ")" : text;
    }

    /// <summary>
    /// Vector conversions. In a rule that mixes float and double per element, each block holds as many
    /// elements as one vector of doubles; float vectors use their lower half (the upper half is zero).
    /// </summary>
    public string Convert(string value, ValueKind from, ValueKind to)
    {
        string v = VectorStatics;
        bool toDouble = to.ElementTypeOf(_element) == "double";
        if (!from.IsMask())
            return toDouble ? $"{v}.WidenLower({value})" : $"{v}.Narrow({value}, {v}<double>.Zero)";
        // Masks: all-ones lanes stay all-ones (sign extension / truncation of -1).
        return toDouble
            ? $"{v}.AsDouble({v}.WidenLower({v}.AsInt32({value})))"
            : $"{v}.AsSingle({v}.Narrow({v}.AsInt64({value}), {v}<long>.Zero))";
    }

    private string PrintVectorCall(CallExpr c)
    {
        KnownFunction function = KnownFunctions.Of(c.Function);
        ValueKind argumentKind = c.Arguments[0].Kind;
        var a = c.Arguments.Select(x => Print(x)).ToList();
        // The extra argument: the active lanes for a function that can throw, else the argument's scalar type.
        if (function.Throws is not null)
        {
            string active = _active ?? _lanes ?? $"{VectorTypeOf(ValueKind.Element)}.AllBitsSet";
            a.Add(argumentKind.IsOther() ? Convert(active, ValueKind.Mask, ValueKind.OtherMask) : active);
        }
        else
            a.Add(argumentKind.ElementTypeOf(_element));
        string call = function.Vector(VectorStatics, a.ToArray());
        // Math.Sign returns an int, used as the floating type it converts to.
        if (function.Result == KnownResult.Int && c.Kind != argumentKind)
            return Convert(call, argumentKind, c.Kind);
        if (function.Result == KnownResult.Mask && c.Kind != argumentKind.MaskOf())
            return Convert(call, argumentKind.MaskOf(), c.Kind);
        return call;
    }
}

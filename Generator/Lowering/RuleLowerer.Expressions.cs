using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Kernels.Generator.Diagnostics;
using Kernels.Generator.Helpers;
using Kernels.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator.Lowering;

/// <summary>Per-element expressions: operators, conversions, selects and the known functions.</summary>
internal sealed partial class RuleLowerer
{
    // ---- Expressions ------------------------------------------------------------------------

    private ElementExpr LowerExpression(ExpressionSyntax expression)
    {
        if (!_varying.DependsOnVarying(expression))
            return Hoist(expression);

        TypeInfo info = _model.GetTypeInfo(expression);
        if (!CheckElementValue(expression, info))
            return Error();

        ElementExpr lowered = LowerCore(expression, info);
        // An implicit float → double conversion where the value is used (e.g. `grad * someDouble`).
        if (info.ConvertedType is { } converted && TryKindOf(converted, out ValueKind target) && !target.IsMask()
            && !SymbolEqualityComparer.Default.Equals(converted, info.Type) && info.Type!.SpecialType != SpecialType.System_Int32)
            lowered = To(lowered, target);
        return lowered;
    }

    private ElementExpr LowerCore(ExpressionSyntax expression, TypeInfo info)
    {
        switch (expression)
        {
            case ParenthesizedExpressionSyntax parenthesized:
                return LowerExpression(parenthesized.Expression);

            case CheckedExpressionSyntax checkedExpression:
                return LowerExpression(checkedExpression.Expression);

            case IdentifierNameSyntax identifier:
            {
                ISymbol? symbol = _varying.SymbolOf(identifier);
                if (symbol is not null && _elementNames.TryGetValue(symbol, out string? name))
                {
                    MarkRead(name);
                    return new ElementRefExpr(name, KindOf(info.Type!));
                }
                return Error();
            }

            case CastExpressionSyntax cast:
                // (float)x and (double)x: identity, or a per-element conversion between the two.
                return To(LowerExpression(cast.Expression), KindOf(info.Type!));

            case PrefixUnaryExpressionSyntax unary:
                switch (unary.Kind())
                {
                    case SyntaxKind.UnaryPlusExpression:
                        return LowerExpression(unary.Operand);
                    case SyntaxKind.UnaryMinusExpression:
                    {
                        ElementExpr operand = LowerExpression(unary.Operand);
                        return new UnaryExpr(UnaryOp.Negate, operand, operand.Kind);
                    }
                    case SyntaxKind.LogicalNotExpression:
                        return new UnaryExpr(UnaryOp.Not, To(LowerExpression(unary.Operand), ValueKind.Mask), ValueKind.Mask);
                    default:
                        Report(DiagnosticDescriptors.UnsupportedOperator, unary.OperatorToken, unary.OperatorToken.Text);
                        return Error();
                }

            case BinaryExpressionSyntax binary:
                return LowerBinary(binary, info);

            case ConditionalExpressionSyntax conditional:
            {
                ValueKind kind = KindOf(info.Type!);
                if (!_varying.DependsOnVarying(conditional.Condition))
                {
                    // Each arm is reached under its side of the condition (what an arm hoists may depend on it).
                    string condition = HoistCondition(conditional.Condition);
                    _uniformPath.Add((condition, true));
                    _conditions.Add(new ArmCondition(condition, null, true));
                    ElementExpr whenTrue = To(LowerExpression(conditional.WhenTrue), kind);
                    _uniformPath[_uniformPath.Count - 1] = (condition, false);
                    _conditions[_conditions.Count - 1] = new ArmCondition(condition, null, false);
                    ElementExpr whenFalse = To(LowerExpression(conditional.WhenFalse), kind);
                    _uniformPath.RemoveAt(_uniformPath.Count - 1);
                    _conditions.RemoveAt(_conditions.Count - 1);
                    return new UniformSelectExpr(condition, whenTrue, whenFalse, kind);
                }
                ElementExpr mask = To(LowerExpression(conditional.Condition), kind.MaskOf());
                _elementIfDepth++;
                _conditions.Add(new ArmCondition(null, To(mask, ValueKind.Mask), true));
                ElementExpr elementTrue = To(LowerExpression(conditional.WhenTrue), kind);
                _conditions[_conditions.Count - 1] = new ArmCondition(null, To(mask, ValueKind.Mask), false);
                ElementExpr elementFalse = To(LowerExpression(conditional.WhenFalse), kind);
                _conditions.RemoveAt(_conditions.Count - 1);
                _elementIfDepth--;
                return new SelectExpr(mask, elementTrue, elementFalse, kind);
            }

            case InvocationExpressionSyntax invocation:
                return LowerCall(invocation);

            case ObjectCreationExpressionSyntax or ImplicitObjectCreationExpressionSyntax or ArrayCreationExpressionSyntax
                or ImplicitArrayCreationExpressionSyntax or StackAllocArrayCreationExpressionSyntax or InterpolatedStringExpressionSyntax
                or CollectionExpressionSyntax or AnonymousObjectCreationExpressionSyntax:
                Report(DiagnosticDescriptors.Allocation, expression, expression.ToString());
                return Error();

            case RefExpressionSyntax:
                Report(DiagnosticDescriptors.RefLocal, expression);
                return Error();

            case AssignmentExpressionSyntax:
                Report(DiagnosticDescriptors.UnsupportedExpression, expression, "assignment inside an expression");
                return Error();

            default:
                Report(DiagnosticDescriptors.UnsupportedExpression, expression, expression.ToString());
                return Error();
        }
    }

    private ElementExpr LowerBinary(BinaryExpressionSyntax binary, TypeInfo info)
    {
        BinaryOp? op = binary.Kind() switch
        {
            SyntaxKind.AddExpression => BinaryOp.Add,
            SyntaxKind.SubtractExpression => BinaryOp.Subtract,
            SyntaxKind.MultiplyExpression => BinaryOp.Multiply,
            SyntaxKind.DivideExpression => BinaryOp.Divide,
            SyntaxKind.LessThanExpression => BinaryOp.LessThan,
            SyntaxKind.LessThanOrEqualExpression => BinaryOp.LessThanOrEqual,
            SyntaxKind.GreaterThanExpression => BinaryOp.GreaterThan,
            SyntaxKind.GreaterThanOrEqualExpression => BinaryOp.GreaterThanOrEqual,
            SyntaxKind.EqualsExpression => BinaryOp.Equal,
            SyntaxKind.NotEqualsExpression => BinaryOp.NotEqual,
            SyntaxKind.LogicalAndExpression or SyntaxKind.BitwiseAndExpression => BinaryOp.And,
            SyntaxKind.LogicalOrExpression or SyntaxKind.BitwiseOrExpression => BinaryOp.Or,
            SyntaxKind.ExclusiveOrExpression => BinaryOp.Xor,
            _ => null,
        };
        if (op is null)
        {
            Report(DiagnosticDescriptors.UnsupportedOperator, binary.OperatorToken, binary.OperatorToken.Text);
            return Error();
        }

        // `flag && x` / `flag || x` with a step-invariant left: the rule evaluates x only when the left decides nothing, so
        // the right operand is a uniform arm (`flag ? x : flag`, `flag ? flag : x`), evaluated once per call or not at all.
        if (binary.Kind() is SyntaxKind.LogicalAndExpression or SyntaxKind.LogicalOrExpression
            && !_varying.DependsOnVarying(binary.Left) && _varying.DependsOnVarying(binary.Right))
        {
            bool and = binary.IsKind(SyntaxKind.LogicalAndExpression);
            string decided = HoistCondition(binary.Left);
            _uniformPath.Add((decided, and));
            _conditions.Add(new ArmCondition(decided, null, and));
            ElementExpr rest = To(LowerExpression(binary.Right), ValueKind.Mask);
            _conditions.RemoveAt(_conditions.Count - 1);
            _uniformPath.RemoveAt(_uniformPath.Count - 1);
            var leftMask = new UniformExpr(decided, ValueKind.Mask);
            return and
                ? new UniformSelectExpr(decided, rest, leftMask, ValueKind.Mask)
                : new UniformSelectExpr(decided, leftMask, rest, ValueKind.Mask);
        }

        ElementExpr left = LowerExpression(binary.Left);
        // `g > 0 && x`: the scalar rule evaluates x only where the left holds.
        bool shortCircuit = binary.Kind() is SyntaxKind.LogicalAndExpression or SyntaxKind.LogicalOrExpression && _varying.DependsOnVarying(binary.Left);
        if (shortCircuit)
        {
            _elementIfDepth++;
            _conditions.Add(new ArmCondition(null, To(left, ValueKind.Mask), binary.IsKind(SyntaxKind.LogicalAndExpression)));
        }
        ElementExpr right = LowerExpression(binary.Right);
        if (shortCircuit)
        {
            _conditions.RemoveAt(_conditions.Count - 1);
            _elementIfDepth--;
        }
        // The IR keeps the short circuit: a function of the right operand that can throw is checked only on the lanes the left leaves undecided.
        if (shortCircuit)
            op = op == BinaryOp.And ? BinaryOp.AndAlso : BinaryOp.OrElse;
        bool comparison = op is BinaryOp.LessThan or BinaryOp.LessThanOrEqual or BinaryOp.GreaterThan or BinaryOp.GreaterThanOrEqual;
        bool equality = op is BinaryOp.Equal or BinaryOp.NotEqual;
        bool logical = op is BinaryOp.And or BinaryOp.Or or BinaryOp.Xor or BinaryOp.AndAlso or BinaryOp.OrElse;

        if (logical || equality && left.Kind.IsMask() && right.Kind.IsMask())
        {
            // Masks combine over the rule's lanes; bool == bool is "not xor", bool != bool is xor.
            left = To(left, ValueKind.Mask);
            right = To(right, ValueKind.Mask);
            if (!equality)
                return new BinaryExpr(op.Value, left, right, ValueKind.Mask);
            ElementExpr differs = new BinaryExpr(BinaryOp.Xor, left, right, ValueKind.Mask);
            return op == BinaryOp.NotEqual ? differs : new UnaryExpr(UnaryOp.Not, differs, ValueKind.Mask);
        }

        // C# has already converted both operands to one floating type.
        if (left.Kind.IsMask() || right.Kind.IsMask() || left.Kind != right.Kind)
        {
            Report(DiagnosticDescriptors.UnsupportedOperator, binary.OperatorToken, binary.OperatorToken.Text);
            return Error();
        }
        ValueKind kind = comparison || equality ? left.Kind.MaskOf() : left.Kind;
        return new BinaryExpr(op.Value, left, right, kind);
    }

    private ElementExpr LowerCall(InvocationExpressionSyntax invocation)
    {
        if (_model.GetSymbolInfo(invocation).Symbol is not IMethodSymbol method)
        {
            Report(DiagnosticDescriptors.UnknownMethod, invocation, invocation.Expression.ToString());
            return Error();
        }

        // Arguments in parameter order (named arguments may be written in any order).
        var syntax = new ExpressionSyntax[method.Parameters.Length];
        SeparatedSyntaxList<ArgumentSyntax> list = invocation.ArgumentList.Arguments;
        for (int i = 0; i < list.Count && i < syntax.Length; i++)
        {
            int ordinal = list[i].NameColon is { } nameColon
                ? method.Parameters.FirstOrDefault(p => p.Name == nameColon.Name.Identifier.ValueText)?.Ordinal ?? i
                : i;
            syntax[ordinal] = list[i].Expression;
        }

        if (VaryingAnalysis.IsReduction(method))
            return LowerReduction(invocation, method, syntax);

        bool mathType = KnownFunctions.IsMathType(method.ContainingType.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat.WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.None)));
        ITypeSymbol? argumentType = method.Parameters.FirstOrDefault()?.Type;

        if (mathType && method.Name == "Pow" && syntax.Length == 2 && syntax.All(a => a is not null) && IsFloatingPoint(argumentType))
            return LowerPower(invocation, syntax[0], syntax[1], argumentType!);

        if (!mathType && method.DeclaringSyntaxReferences.Length > 0)
            return InlineHelper(invocation, method, syntax);

        KnownFunction? known = mathType ? KnownFunctions.Named(method.Name) : null;
        if (known is not null && method.ContainingType.ToDisplayString() == KnownFunctions.KernelMathType && known.Function is not (Intrinsic.Exp or Intrinsic.Log))
            known = null;
        // float.Clamp / double.Clamp differ from Math.Clamp on NaN bounds and signed zeros.
        if (known?.Function == Intrinsic.Clamp && method.ContainingType.SpecialType is SpecialType.System_Single or SpecialType.System_Double)
            known = KnownFunctions.Of(Intrinsic.ClampNumber);
        if (known is null || method.Parameters.Length != known.Arity || !IsFloatingPoint(argumentType)
            || method.Parameters.Any(p => !SymbolEqualityComparer.Default.Equals(p.Type, argumentType)) || syntax.Any(a => a is null))
        {
            Report(DiagnosticDescriptors.UnknownMethod, invocation, method.ContainingType.Name + "." + method.Name);
            return Error();
        }

        EquatableArray<ElementExpr> arguments = syntax.Select(a => LowerExpression(a)).ToEquatableArray();
        string sourceName = known.Scalar ?? method.ContainingType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) + "." + method.Name;
        ValueKind argumentKind = KindOf(argumentType!);
        ValueKind kind = known.Result switch
        {
            KnownResult.Mask => argumentKind.MaskOf(),
            // Sign returns int; its value is used as the floating type it converts to (implicitly or by a cast).
            KnownResult.Int => KindOf(SignTargetType(invocation) ?? argumentType!),
            _ => argumentKind,
        };
        return new CallExpr(known.Function, sourceName, arguments, kind);
    }

    // Helpers being inlined, innermost last (a helper that reaches itself is recursive).

    private ITypeSymbol? SignTargetType(ExpressionSyntax call)
    {
        ITypeSymbol? converted = _model.GetTypeInfo(call).ConvertedType;
        if (IsFloatingPoint(converted))
            return converted;
        SyntaxNode? parent = call.Parent;
        while (parent is ParenthesizedExpressionSyntax)
            parent = parent.Parent;
        return parent is CastExpressionSyntax cast && _model.GetTypeInfo(cast).Type is { } type && IsFloatingPoint(type) ? type : null;
    }

    /// <summary>
    /// <c>Math.Pow(x, n)</c> with a constant integer 0 ≤ n ≤ 4 and a per-element x: repeated multiplication, the
    /// same in the scalar tail and every vector width (documented: it may differ from the C runtime's pow in the
    /// last bit; write <c>x * x</c> in the rule to match it exactly).
    /// </summary>
    private ElementExpr LowerPower(InvocationExpressionSyntax invocation, ExpressionSyntax @base, ExpressionSyntax exponent, ITypeSymbol type)
    {
        Optional<object?> constant = _model.GetConstantValue(exponent);
        double n = constant.HasValue && constant.Value is not null ? System.Convert.ToDouble(constant.Value, CultureInfo.InvariantCulture) : double.NaN;
        if (_varying.DependsOnVarying(exponent) || n is not (0 or 1 or 2 or 3 or 4))
        {
            Report(DiagnosticDescriptors.UnknownMethod, invocation, "Pow with an exponent other than a constant 0, 1, 2, 3 or 4");
            return Error();
        }
        ValueKind kind = KindOf(type);
        ElementExpr x = To(LowerExpression(@base), kind);
        if (n == 0)
        {
            // pow(x, 0) is 1, NaN included; x is still evaluated when it can throw (a checked Clamp or Sign in it).
            var one = new UniformExpr(HoistConstant(1, "one", KeywordOf(kind)), kind);
            bool throws = Ir.Expressions(x).Any(e => e is CallExpr c && KnownFunctions.Of(c.Function).Throws is not null);
            return throws ? new SelectExpr(new BinaryExpr(BinaryOp.Equal, x, x, kind.MaskOf()), one, one, kind) : one;
        }
        ElementExpr Times(ElementExpr a, ElementExpr b) => new BinaryExpr(BinaryOp.Multiply, a, b, kind);
        return n switch
        {
            1 => x,
            2 => Times(x, x),
            3 => Times(Times(x, x), x),
            _ => Times(Times(x, x), Times(x, x)),
        };
    }

    /// <summary>Checks the type and implicit conversion of a per-element expression.</summary>
    private bool CheckElementValue(ExpressionSyntax expression, TypeInfo info)
    {
        if (info.Type is null)
            return false; // an error the compiler already reports
        // A use of a local whose declaration was already reported (KRN0108 once per local, not at every use).
        if (expression.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>().Any(id => _varying.SymbolOf(id) is { } s && _badLocals.Contains(s)))
            return false;
        bool isSign = expression is InvocationExpressionSyntax && _model.GetSymbolInfo(expression).Symbol is IMethodSymbol { Name: "Sign" }
            && info.Type.SpecialType == SpecialType.System_Int32;
        if (isSign)
        {
            // Math.Sign returns int; it may only be used where it converts to a floating type (implicitly or by a cast).
            if (SignTargetType(expression) is not null)
                return true;
            ReportBadType(expression, info.ConvertedType ?? info.Type);
            return false;
        }
        if (!TryKindOf(info.Type, out _))
        {
            ReportBadType(expression, info.Type);
            return false;
        }
        if (info.ConvertedType is { } converted && !TryKindOf(converted, out _))
        {
            ReportBadType(expression, converted);
            return false;
        }
        return true;
    }
}

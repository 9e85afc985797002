using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator.Lowering;

/// <summary>
/// Decides whether uniform code may throw. Hoisting moves uniform code out of the element loop; code that
/// cannot throw may run once whatever the conditions around it, but code that may throw must run only where
/// the scalar rule would reach it (under the same uniform conditions, never under a per-element one).
/// Conservative: anything not known to be safe may throw.
/// </summary>
internal static class ThrowAnalysis
{
    /// <summary>Why <paramref name="node"/> may throw, or null if it cannot.</summary>
    public static string? Reason(SemanticModel model, SyntaxNode node)
    {
        foreach (SyntaxNode n in node.DescendantNodesAndSelf())
        {
            string? reason = ReasonOf(model, n);
            if (reason is not null)
                return reason;
        }
        return null;
    }

    private static string? ReasonOf(SemanticModel model, SyntaxNode n)
    {
        switch (n)
        {
            case ThrowStatementSyntax or ThrowExpressionSyntax:
                return "a throw";
            case CheckedExpressionSyntax { RawKind: (int)SyntaxKind.CheckedExpression }:
            case CheckedStatementSyntax { RawKind: (int)SyntaxKind.CheckedStatement }:
                return "checked arithmetic";
            case ElementAccessExpressionSyntax:
                return "an indexer";
            case InvocationExpressionSyntax invocation:
                return CallReason(model, invocation);
            case BaseObjectCreationExpressionSyntax creation:
                // A struct's parameterless construction is its default value; any constructor may throw.
                return creation.ArgumentList is { Arguments.Count: > 0 } || creation.Initializer is not null
                    ? "a constructor" : null;
            case BinaryExpressionSyntax binary when binary.Kind() is SyntaxKind.DivideExpression or SyntaxKind.ModuloExpression:
                return IntegerDivisionReason(model, binary.Right, model.GetTypeInfo(binary).Type);
            case AssignmentExpressionSyntax assignment when assignment.Kind() is SyntaxKind.DivideAssignmentExpression or SyntaxKind.ModuloAssignmentExpression:
                return IntegerDivisionReason(model, assignment.Right, model.GetTypeInfo(assignment.Left).Type);
            case MemberAccessExpressionSyntax access:
            {
                // Dereferencing a reference (a null string, array…) or Nullable<T>.Value can throw.
                ISymbol? member = model.GetSymbolInfo(access).Symbol;
                if (member is null || member.IsStatic || member is INamespaceOrTypeSymbol)
                    return null;
                ITypeSymbol? receiver = model.GetTypeInfo(access.Expression).Type;
                if (receiver is { IsReferenceType: true })
                    return "a member of a reference";
                if (receiver is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } && access.Name.Identifier.ValueText == "Value")
                    return "Nullable<T>.Value";
                // A struct's own members (TimeSpan.TotalSeconds, a tuple's Item1) are taken as not throwing.
                return null;
            }
            case CastExpressionSyntax cast:
            {
                // The cast's own conversion (not the operand's implicit one): unboxing, a downcast or a user-defined
                // operator can throw; numeric conversions cannot outside a checked context (handled above).
                if (model.GetOperation(cast) is not Microsoft.CodeAnalysis.Operations.IConversionOperation operation)
                    return "a conversion";
                Conversion conversion = operation.GetConversion();
                ITypeSymbol? from = model.GetTypeInfo(cast.Expression).Type, to = model.GetTypeInfo(cast).Type;
                if (conversion.IsUserDefined || conversion.IsUnboxing || conversion.IsReference && !conversion.IsImplicit)
                    return "a conversion";
                if (from?.SpecialType == SpecialType.System_Decimal || to?.SpecialType == SpecialType.System_Decimal)
                    return "a decimal conversion";
                return null;
            }
            default:
                if (n is ExpressionSyntax e && model.GetTypeInfo(e).Type?.SpecialType == SpecialType.System_Decimal
                    && n is BinaryExpressionSyntax or PrefixUnaryExpressionSyntax or PostfixUnaryExpressionSyntax)
                    return "decimal arithmetic";
                return null;
        }
    }

    private static string? IntegerDivisionReason(SemanticModel model, ExpressionSyntax divisor, ITypeSymbol? type)
    {
        if (type is null || type.SpecialType is SpecialType.System_Single or SpecialType.System_Double)
            return null;
        Optional<object?> constant = model.GetConstantValue(divisor);
        // A constant divisor other than 0 and -1 cannot throw (-1 overflows on MinValue).
        if (constant.HasValue && constant.Value is not null && System.Convert.ToDouble(constant.Value, System.Globalization.CultureInfo.InvariantCulture) is var d && d != 0 && d != -1)
            return null;
        return "integer division";
    }

    /// <summary>Calls known not to throw: the floating-point math of Math/MathF/float/double except Sign, Clamp and rounding with a mode.</summary>
    private static string? CallReason(SemanticModel model, InvocationExpressionSyntax invocation)
    {
        if (model.GetSymbolInfo(invocation).Symbol is not IMethodSymbol method)
            return invocation.Expression is IdentifierNameSyntax { Identifier.ValueText: "nameof" } ? null : "a call";
        string container = method.ContainingType?.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat.WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.None)) ?? "";
        bool math = container is "System.Math" or "System.MathF" or "System.Single" or "System.Double";
        if (!math)
            return "a call of " + method.Name;
        if (method.Name is "Sign")
            return "Math.Sign of NaN";
        if (method.Name is "Clamp")
            return "Math.Clamp with min > max";
        if (method.Name is "Round" && method.Parameters.Length > 1)
            return "Math.Round with digits or a mode";
        // Integer overloads (Abs of MinValue, DivRem by zero…) throw; floating ones do not.
        if (method.Parameters.Any(p => p.Type.SpecialType is not (SpecialType.System_Single or SpecialType.System_Double)))
            return "an integer " + method.Name;
        return null;
    }
}

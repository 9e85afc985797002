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

/// <summary>Hoisting: uniform code moved into the prologue, computed once per call, only where the rule would reach it.</summary>
internal sealed partial class RuleLowerer
{
    // ---- Hoisting ---------------------------------------------------------------------------

    /// <summary>Hoists a uniform expression used in per-element code; returns its broadcast.</summary>
    private ElementExpr Hoist(ExpressionSyntax expression)
    {
        if (!CheckUniformCode(expression) || !CheckReachedByEveryElement(expression))
            return Error();

        TypeInfo info = _model.GetTypeInfo(expression);
        ITypeSymbol? type = info.ConvertedType ?? info.Type;
        if (type is null)
            return Error();
        if (!TryKindOf(type, out ValueKind kind))
        {
            ReportBadType(expression, type);
            return Error();
        }
        string keyword = KeywordOf(kind);

        foreach (IdentifierNameSyntax id in expression.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>())
        {
            if (_varying.SymbolOf(id) is ILocalSymbol local)
                _uniformLocalsReadPerElement.Add(local);
        }

        Optional<object?> constant = _model.GetConstantValue(expression);
        if (constant.HasValue && constant.Value is not null && !kind.IsMask())
            return new UniformExpr(HoistConstant(constant.Value, null, keyword, expression), kind);

        // A uniform parameter or local of exactly the right type needs no copy.
        if (expression is IdentifierNameSyntax plain && SymbolEqualityComparer.Default.Equals(info.Type, type)
            && _varying.SymbolOf(plain) is IParameterSymbol or ILocalSymbol)
        {
            string name = _varying.SymbolOf(plain) is ILocalSymbol l ? LocalName(l) : Escape(plain.Identifier.ValueText);
            AddKernelInput(name, keyword);
            return new UniformExpr(name, kind);
        }

        string text = Rewrite(expression);
        bool converted = !SymbolEqualityComparer.Default.Equals(info.Type, type);
        if (converted)
            text = $"({keyword})({text})";
        return new UniformExpr(Declare(keyword, text, expression, converted || expression is CastExpressionSyntax ? keyword : null), kind);
    }

    private string HoistCondition(ExpressionSyntax condition)
    {
        CheckUniformCode(condition);
        CheckReachedByEveryElement(condition);
        if (condition is IdentifierNameSyntax plain && _varying.SymbolOf(plain) is IParameterSymbol or ILocalSymbol)
        {
            string name = _varying.SymbolOf(plain) is ILocalSymbol l ? LocalName(l) : Escape(plain.Identifier.ValueText);
            AddKernelInput(name, "bool");
            return name;
        }
        return Declare("bool", Rewrite(condition), condition);
    }

    private string HoistConstant(object value, string? nameHint, string keyword, ExpressionSyntax? source = null)
    {
        string text = Literals.Format(value, keyword);
        string key = keyword + ":" + text;
        if (_hoistedByText.TryGetValue(key, out string? existing))
            return existing;
        string? convertedTo = keyword != _elementKeyword ? keyword : null;   // `zeroAsDouble` beside `zero`
        string name = nameHint is not null ? _names.ClaimName(nameHint) : _names.Claim(LiteralFor(value) ?? source!, "constant", convertedTo);
        _hoistedByText[key] = name;
        _prologue.Add($"{keyword} {name} = {text};");
        AddKernelInput(name, keyword);
        return name;
    }


    // Names a constant after its shortest round-trip text in its own type (1e-15f → c1Em15, not its double widening).
    private static ExpressionSyntax? LiteralFor(object value) => value switch
    {
        float f => SyntaxFactory.ParseExpression(Literals.Format(f, "float").TrimEnd('f')),
        double or int or long => SyntaxFactory.ParseExpression(Literals.Format(value, "double").TrimEnd('d')),
        _ => null,
    };

    private string Declare(string keyword, string text, ExpressionSyntax source, string? convertedTo = null)
    {
        // Under a uniform condition, a value that may throw is computed only where the rule computes it.
        bool conditional = _uniformPath.Count > 0 && ThrowAnalysis.Reason(_model, source) is not null;
        string key = keyword + ":" + text + (conditional ? " if " + PathText() : "");
        if (!_hoistedByText.TryGetValue(key, out string? name))
        {
            name = _names.Claim(source, keyword == "bool" ? "condition" : "hoisted", convertedTo);
            _hoistedByText[key] = name;
            if (conditional)
            {
                _prologue.Add($"{keyword} {name} = default;");
                _prologue.Add($"if ({PathText()})\n{{\n    {name} = {text};\n}}");
            }
            else
                _prologue.Add($"{keyword} {name} = {text};");
        }
        AddKernelInput(name, keyword);
        return name;
    }

    private void AddKernelInput(string name, string type)
    {
        if (_kernelInputNames.Add(name))
            _kernelInputs.Add(new KernelInputSpec(name, ScalarTypes.FromKeyword(type)));
    }

    /// <summary>Reports constructs that are wrong even in uniform code. Returns false if any was found.</summary>
    private bool CheckUniformCode(SyntaxNode node)
    {
        bool ok = true;
        foreach (SyntaxNode n in node.DescendantNodesAndSelf(descendIntoChildren: c => c is not ThrowStatementSyntax and not ThrowExpressionSyntax))
        {
            switch (n)
            {
                case ThrowStatementSyntax or ThrowExpressionSyntax:
                    // Validation of hyperparameters: runs once per call, before any element is written.
                    break;
                case ReturnStatementSyntax:
                    Report(DiagnosticDescriptors.ReturnInRule, n);
                    ok = false;
                    break;
                case TryStatementSyntax:
                    Report(DiagnosticDescriptors.ExceptionInRule, n, "try");
                    ok = false;
                    break;
                case RefExpressionSyntax or RefTypeSyntax:
                    Report(DiagnosticDescriptors.RefLocal, n);
                    ok = false;
                    break;
                case ArrayCreationExpressionSyntax or ImplicitArrayCreationExpressionSyntax or StackAllocArrayCreationExpressionSyntax
                    or ImplicitStackAllocArrayCreationExpressionSyntax or InterpolatedStringExpressionSyntax or CollectionExpressionSyntax
                    or AnonymousObjectCreationExpressionSyntax or LambdaExpressionSyntax or AnonymousMethodExpressionSyntax:
                    Report(DiagnosticDescriptors.Allocation, n, n.ToString());
                    ok = false;
                    break;
                case BaseObjectCreationExpressionSyntax creation when _model.GetTypeInfo(creation).Type is { IsReferenceType: true }:
                    Report(DiagnosticDescriptors.Allocation, n, n.ToString());
                    ok = false;
                    break;
                case LocalFunctionStatementSyntax:
                    Report(DiagnosticDescriptors.UnsupportedStatement, n, "local function");
                    ok = false;
                    break;
                case GotoStatementSyntax @goto:
                    // Hoisting moves statements one by one; a jump could lose its label.
                    Report(DiagnosticDescriptors.UnsupportedStatement, @goto.GotoKeyword, "goto");
                    ok = false;
                    break;
                case LabeledStatementSyntax label:
                    Report(DiagnosticDescriptors.UnsupportedStatement, label.Identifier, "labeled");
                    ok = false;
                    break;
                case ExpressionStatementSyntax { Expression: var e } when !IsLocalMutation(e):
                    Report(DiagnosticDescriptors.SideEffect, n, n.ToString().Trim());
                    ok = false;
                    break;
            }
        }
        return ok;
    }

    /// <summary>Whether an expression statement only changes locals of the rule (anything else is a side effect).</summary>
    private bool IsLocalMutation(ExpressionSyntax expression)
    {
        if (expression is InvocationExpressionSyntax invocation)
            return IsThrowHelper(invocation);
        ExpressionSyntax? target = expression switch
        {
            AssignmentExpressionSyntax a => a.Left,
            _ when VaryingAnalysis.IsIncrementOrDecrement(expression) => VaryingAnalysis.Operand(expression),
            _ => null,
        };
        return target is not null && IsLocalTarget(target);
    }

    /// <summary>A local, a discard, or a tuple of them (<c>(a, b) = (b, a)</c>).</summary>
    private bool IsLocalTarget(ExpressionSyntax target) => target switch
    {
        TupleExpressionSyntax tuple => tuple.Arguments.All(a => IsLocalTarget(a.Expression)),
        DeclarationExpressionSyntax => true,
        IdentifierNameSyntax { Identifier.ValueText: "_" } when _varying.SymbolOf(target) is null or IDiscardSymbol => true,
        _ => _varying.SymbolOf(target) is ILocalSymbol,
    };

    /// <summary>
    /// Validation through a throw helper (<c>ArgumentOutOfRangeException.ThrowIfNegative(lr)</c>, or the user's own
    /// static <c>Throw…</c> method): it has no effect but the exception, so it may run once per call.
    /// </summary>
    private bool IsThrowHelper(InvocationExpressionSyntax invocation)
    {
        if (_model.GetSymbolInfo(invocation).Symbol is not IMethodSymbol { IsStatic: true, ReturnsVoid: true } method
            || !method.Name.StartsWith("Throw", System.StringComparison.Ordinal))
            return false;
        for (ITypeSymbol? type = method.ContainingType; type is not null; type = type.BaseType)
        {
            if (type.ToDisplayString() == "System.Exception")
                return true;
        }
        // The user's own throw helper: declared in source, in this compilation.
        return method.Locations.Any(l => l.IsInSource);
    }

    private IEnumerable<ILocalSymbol> AssignedLocals(SyntaxNode node)
    {
        foreach (SyntaxNode n in node.DescendantNodesAndSelf())
        {
            ExpressionSyntax? target = n switch
            {
                AssignmentExpressionSyntax a => a.Left,
                _ when VaryingAnalysis.IsIncrementOrDecrement(n) => VaryingAnalysis.Operand(n),
                _ => null,
            };
            if (target is TupleExpressionSyntax tuple)
            {
                foreach (ArgumentSyntax argument in tuple.Arguments)
                {
                    if (_varying.SymbolOf(argument.Expression) is ILocalSymbol element)
                        yield return element;
                }
            }
            else if (target is not null && _varying.SymbolOf(target) is ILocalSymbol local)
                yield return local;
        }
    }
}

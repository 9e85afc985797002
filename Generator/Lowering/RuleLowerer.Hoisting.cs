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
        if (!CheckUniformCode(expression))
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

        Optional<object?> constant = _model.GetConstantValue(expression);
        if (constant.HasValue && constant.Value is not null && !kind.IsMask())
            return new UniformExpr(HoistConstant(constant.Value, null, keyword, expression), kind);

        // A uniform parameter or local of exactly the right type needs no copy.
        if (expression is IdentifierNameSyntax plain && SymbolEqualityComparer.Default.Equals(info.Type, type)
            && _varying.SymbolOf(plain) is IParameterSymbol or ILocalSymbol && !IsMutated(plain))
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

    // Uniform variables the rule assigns after their declaration (a parameter, a local updated in a loop…): the kernel
    // must see their value where the per-element code reads them, not at the end of the prologue, so such a read
    // takes a copy there; the epoch counts the hoisted statements that assign, so a later read is a new copy.
    private readonly HashSet<ISymbol> _mutated = new(SymbolEqualityComparer.Default);
    private int _epoch;

    private bool IsMutated(IdentifierNameSyntax name) => _varying.SymbolOf(name) is { } s && _mutated.Contains(s);

    private void FindMutated(SyntaxNode body)
    {
        foreach (SyntaxNode n in body.DescendantNodes())
        {
            ExpressionSyntax? target = n switch
            {
                AssignmentExpressionSyntax a => a.Left,
                _ when VaryingAnalysis.IsIncrementOrDecrement(n) => VaryingAnalysis.Operand(n),
                ArgumentSyntax { RefKindKeyword.RawKind: (int)SyntaxKind.RefKeyword or (int)SyntaxKind.OutKeyword } arg => arg.Expression,
                _ => null,
            };
            foreach (ExpressionSyntax t in target is TupleExpressionSyntax tuple ? tuple.Arguments.Select(a => a.Expression) : new[] { target! }.Where(x => x is not null))
            {
                if (_model.GetSymbolInfo(t).Symbol is ILocalSymbol or IParameterSymbol { RefKind: RefKind.None } && _model.GetSymbolInfo(t).Symbol is { } symbol)
                    _mutated.Add(symbol);
            }
        }
    }

    private string HoistCondition(ExpressionSyntax condition)
    {
        CheckUniformCode(condition);
        if (condition is IdentifierNameSyntax plain && _varying.SymbolOf(plain) is IParameterSymbol or ILocalSymbol && !IsMutated(plain))
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
        // A value that may throw is computed only under the uniform conditions the rule computes it under.
        bool mayThrow = ThrowAnalysis.Reason(_model, source) is not null;
        bool conditional = mayThrow && _uniformPath.Count > 0;
        bool faultable = mayThrow && _elementIfDepth > 0;
        // The epoch: a value read after uniform code reassigned one of its variables is a new value.
        string key = keyword + ":" + text + (conditional ? " if " + PathText() : "") + (faultable ? " faultable" : "") + " @" + _epoch.ToString(CultureInfo.InvariantCulture);
        if (!_hoistedByText.TryGetValue(key, out string? name))
        {
            name = _names.Claim(source, keyword == "bool" ? "condition" : "hoisted", convertedTo);
            _hoistedByText[key] = name;
            if (conditional)
            {
                _prologue.Add($"{keyword} {name} = default;");
                _prologue.Add(Guarded($"{name} = {text};"));
            }
            else
                _prologue.Add($"{keyword} {name} = {text};");
        }
        AddKernelInput(name, keyword);
        return name;
    }

    /// <summary>
    /// Uniform code the rule runs only under the enclosing uniform conditions, as an <c>if</c>. (Code reached only under
    /// a per-element condition is computed unconditionally; if it throws, the prologue's fault sends the overloads to
    /// the element-by-element fallback, which throws exactly where the rule would.)
    /// </summary>
    private string Guarded(string statement) =>
        _uniformPath.Count > 0 ? "if (" + PathText() + ")\n{\n" + Indent(statement) + "\n}" : statement;

    private bool _mayFault;

    /// <summary>
    /// The name the kernel gives the exception its prologue threw, when any hoisted code may throw: the overloads then
    /// run the rule element by element, so it throws where (and only if) calling the rule element by element would —
    /// whatever the order of uniform and per-element code, and whether a per-element condition reaches it.
    /// </summary>
    public string? FaultName => _mayFault ? _faultName ??= _names.ClaimName("fault") : null;

    private string? _faultName;

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
                case GotoStatementSyntax @goto when !JumpsWithin(@goto, node):
                    // Hoisting moves statements one by one (per-element ones into the loop): a jump out of the
                    // statement being hoisted would lose its label or skip per-element work.
                    Report(DiagnosticDescriptors.UnsupportedStatement, @goto.GotoKeyword, "goto");
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

    /// <summary>Whether a <c>goto</c> lands inside <paramref name="unit"/> (a uniform loop or block hoisted whole).</summary>
    private static bool JumpsWithin(GotoStatementSyntax jump, SyntaxNode unit) => jump.Kind() switch
    {
        SyntaxKind.GotoStatement => jump.Expression is IdentifierNameSyntax label
            && unit.DescendantNodesAndSelf().OfType<LabeledStatementSyntax>().Any(l => l.Identifier.ValueText == label.Identifier.ValueText),
        // goto case / goto default: inside a switch that is hoisted whole.
        _ => jump.Ancestors().TakeWhile(a => a != unit).Any(a => a is SwitchStatementSyntax),
    };

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
        // A uniform parameter is the prologue's own copy: assigning it changes nothing outside the rule.
        _ => _varying.SymbolOf(target) is ILocalSymbol or IParameterSymbol { RefKind: RefKind.None },
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
}

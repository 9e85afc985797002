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

/// <summary>Per-element calls of the user's own static helpers, inlined.</summary>
internal sealed partial class RuleLowerer
{
    private readonly List<IMethodSymbol> _inlining = new();

    /// <summary>
    /// A per-element call of the user's own static helper (<c>static float Sq(float x) =&gt; x * x;</c>), inlined as
    /// ComputeSharp inlines shader helpers: each parameter becomes a fresh per-element local holding its argument,
    /// the body's locals become locals of the rule, and the returned expression is the call's value. Supported
    /// bodies: an expression body, or local declarations and assignments followed by one final <c>return</c>.
    /// </summary>
    private ElementExpr InlineHelper(InvocationExpressionSyntax invocation, IMethodSymbol method, ExpressionSyntax[] arguments)
    {
        string? reason =
            !method.IsStatic ? "it is not static"
            : method.IsGenericMethod ? "it is generic"
            : method.ReturnsVoid ? "it returns nothing"
            : method.Parameters.Any(p => p.RefKind is RefKind.Ref or RefKind.Out) ? "it has ref or out parameters"
            : arguments.Any(a => a is null) ? "an argument is left to its default"
            : _inlining.Any(m => SymbolEqualityComparer.Default.Equals(m, method)) ? "it is recursive"
            : _inlining.Count >= 8 ? "helpers nest more than 8 deep"
            : null;
        SyntaxNode? declaration = method.DeclaringSyntaxReferences[0].GetSyntax(_cancellationToken);
        ExpressionSyntax? result = null;
        var statements = new List<StatementSyntax>();
        if (reason is null)
        {
            switch (declaration)
            {
                case MethodDeclarationSyntax { ExpressionBody: { } arrow }:
                    result = arrow.Expression;
                    break;
                case MethodDeclarationSyntax { Body: { } block } when block.Statements.LastOrDefault() is ReturnStatementSyntax { Expression: { } returned }
                    && !block.Statements.Take(block.Statements.Count - 1).SelectMany(s => s.DescendantNodesAndSelf()).Any(n => n is ReturnStatementSyntax):
                    result = returned;
                    statements.AddRange(block.Statements.Take(block.Statements.Count - 1));
                    break;
                case MethodDeclarationSyntax:
                    reason = "its body is not one expression or statements ending in a single return";
                    break;
                default:
                    reason = "it is not an ordinary method";
                    break;
            }
        }
        if (reason is null && !TryKindOf(method.ReturnType, out _))
            reason = "it returns " + method.ReturnType.ToDisplayString();
        if (reason is not null)
        {
            Report(DiagnosticDescriptors.UnsupportedHelper, invocation, method.Name, reason);
            return Error();
        }

        // Arguments are evaluated in the caller's context, in order, into the parameters' locals; the helper's
        // statements are collected apart, then placed under the conditions of the expression that calls it.
        List<ElementStmt> callerPending = _pending;
        List<ArmCondition> callerConditions = new(_conditions);
        var helperPending = new List<ElementStmt>();
        _pending = helperPending;
        try
        {
            return InlineInto(invocation, method, arguments, declaration!, statements, result!);
        }
        finally
        {
            _pending = callerPending;
            _conditions.Clear();
            _conditions.AddRange(callerConditions);
            PlaceUnderConditions(helperPending, callerConditions, callerPending, method.Name);
        }
    }

    private ElementExpr InlineInto(InvocationExpressionSyntax invocation, IMethodSymbol method, ExpressionSyntax[] arguments,
        SyntaxNode declaration, List<StatementSyntax> statements, ExpressionSyntax result)
    {
        var parameterNames = new List<(IParameterSymbol Parameter, string Name, ValueKind Kind)>();
        foreach (IParameterSymbol parameter in method.Parameters)
        {
            if (!TryKindOf(parameter.Type, out ValueKind kind))
            {
                ReportBadType(arguments[parameter.Ordinal], parameter.Type);
                return Error();
            }
            string name = _names.ClaimName(parameter.Name);
            _elementNamesTaken.Add(name);
            _pending.Add(new AssignStmt(name, Declares: true, kind, To(LowerExpression(arguments[parameter.Ordinal]), kind),
                $"{parameter.Type.ToDisplayString()} {parameter.Name} = {OneLine(arguments[parameter.Ordinal].ToString())};  // {method.Name}"));
            parameterNames.Add((parameter, name, kind));
        }

        // The helper's body, lowered with its own semantic model; its parameters are per-element values, and the
        // caller's expression conditions do not apply inside it (its statements are placed under them as a whole).
        SemanticModel callerModel = _model;
        VaryingAnalysis callerVarying = _varying;
        int callerDepth = _elementIfDepth;
        _inlining.Add(method);
        _conditions.Clear();
        try
        {
            _model = _model.Compilation.GetSemanticModel(declaration.SyntaxTree);
            SyntaxNode body = (SyntaxNode?)((MethodDeclarationSyntax)declaration).Body ?? ((MethodDeclarationSyntax)declaration).ExpressionBody!;
            _varying = new VaryingAnalysis(_model, body, method.Parameters);
            foreach ((IParameterSymbol parameter, string name, ValueKind _) in parameterNames)
                _elementNames[parameter] = name;
            foreach (SyntaxNode node in body.DescendantNodes())
            {
                if ((node as VariableDeclaratorSyntax) is { } d && _model.GetDeclaredSymbol(d) is ILocalSymbol local && !_localNames.ContainsKey(local))
                    _localNames[local] = _names.ClaimName(local.Name);
            }
            foreach (StatementSyntax statement in statements)
                LowerStatementCore(statement, _pending);
            ElementExpr value = LowerExpression(result);
            return To(value, KindOf(method.ReturnType));
        }
        finally
        {
            _model = callerModel;
            _varying = callerVarying;
            _elementIfDepth = callerDepth;
            _inlining.RemoveAt(_inlining.Count - 1);
        }
    }

    /// <summary>
    /// The side of a conditional expression being lowered: a uniform <c>?:</c> arm (<see cref="Uniform"/> names its
    /// hoisted bool) or a per-element one, or the right operand of a per-element <c>&amp;&amp;</c>/<c>||</c> (<see cref="Mask"/>).
    /// </summary>
    private readonly record struct ArmCondition(string? Uniform, ElementExpr? Mask, bool WhenTrue);

    private readonly List<ArmCondition> _conditions = new();

    /// <summary>
    /// An inlined helper's statements run where the rule evaluates the call: under the conditional expressions
    /// around it (a uniform arm becomes a uniform <c>if</c>, a per-element arm a masked one), so a function that can
    /// throw in its arguments or body throws only for the elements that reach it. Its locals are declared outside.
    /// </summary>
    private static void PlaceUnderConditions(List<ElementStmt> statements, List<ArmCondition> conditions, List<ElementStmt> output, string helper)
    {
        if (conditions.Count == 0)
        {
            output.AddRange(statements);
            return;
        }
        var inner = new List<ElementStmt>();
        foreach (ElementStmt statement in statements)
        {
            switch (statement)
            {
                case AssignStmt { Declares: true } declaration:
                    output.Add(new DeclareStmt(declaration.Target, declaration.Kind, declaration.Source));
                    inner.Add(declaration with { Declares = false });
                    break;
                case DeclareStmt declare:
                    output.Add(declare);
                    break;
                default:
                    inner.Add(statement);
                    break;
            }
        }
        EquatableArray<ElementStmt> wrapped = inner.ToEquatableArray();
        for (int i = conditions.Count - 1; i >= 0; i--)
        {
            ArmCondition c = conditions[i];
            string source = "(" + helper + ", where the rule evaluates it)";
            ElementStmt arm = c.Uniform is { } uniform
                ? new UniformIfStmt(uniform, c.WhenTrue ? wrapped : EquatableArray<ElementStmt>.Empty, c.WhenTrue ? EquatableArray<ElementStmt>.Empty : wrapped, source)
                : new ElementIfStmt(c.WhenTrue ? c.Mask! : new UnaryExpr(UnaryOp.Not, c.Mask!, ValueKind.Mask), wrapped, EquatableArray<ElementStmt>.Empty, source);
            wrapped = new[] { arm }.ToEquatableArray();
        }
        output.AddRange(wrapped);
    }


    /// <summary>The floating type an int-valued call converts to: implicitly where it is used, or by an enclosing cast.</summary>
}

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
        if (reason is null && _elementIfDepth > 0 && ContainsThrowingCall(declaration!))
            reason = "it calls Math.Sign or Math.Clamp and is used under a per-element condition";
        if (reason is not null)
        {
            Report(DiagnosticDescriptors.UnsupportedHelper, invocation, method.Name, reason);
            return Error();
        }

        // Arguments are evaluated in the caller's context, in order, into the parameters' locals.
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

        // The helper's body, lowered with its own semantic model; its parameters are per-element values.
        SemanticModel callerModel = _model;
        VaryingAnalysis callerVarying = _varying;
        int callerDepth = _elementIfDepth;
        _inlining.Add(method);
        try
        {
            _model = _model.Compilation.GetSemanticModel(declaration!.SyntaxTree);
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
            ElementExpr value = LowerExpression(result!);
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

    private bool ContainsThrowingCall(SyntaxNode node) =>
        node.DescendantNodes().OfType<InvocationExpressionSyntax>().Any(i =>
            _model.Compilation.GetSemanticModel(i.SyntaxTree).GetSymbolInfo(i).Symbol is IMethodSymbol { Name: "Sign" or "Clamp" });

    /// <summary>The floating type an int-valued call converts to: implicitly where it is used, or by an enclosing cast.</summary>
}

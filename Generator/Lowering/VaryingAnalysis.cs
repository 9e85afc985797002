using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator.Lowering;

/// <summary>
/// Decides which symbols hold per-element ("varying") values: the ref/in parameters, and every local
/// that is assigned from a varying value or assigned under a per-element condition. Everything else is
/// uniform and can be hoisted out of the element loop.
/// </summary>
internal sealed class VaryingAnalysis
{
    private readonly SemanticModel _model;
    private readonly SyntaxNode _body;
    private readonly Dictionary<SyntaxNode, ISymbol?> _symbols = new();

    public HashSet<ISymbol> Varying { get; } = new(SymbolEqualityComparer.Default);

    public VaryingAnalysis(SemanticModel model, SyntaxNode body, IEnumerable<IParameterSymbol> elementParameters)
    {
        _model = model;
        _body = body;
        foreach (IParameterSymbol p in elementParameters)
            Varying.Add(p);
        Run();
    }

    public ISymbol? SymbolOf(SyntaxNode node)
    {
        if (!_symbols.TryGetValue(node, out ISymbol? symbol))
        {
            symbol = node is VariableDeclaratorSyntax declarator
                ? _model.GetDeclaredSymbol(declarator)
                : _model.GetSymbolInfo(node).Symbol;
            _symbols[node] = symbol;
        }
        return symbol;
    }

    /// <summary>Whether any identifier under <paramref name="node"/> names a varying symbol.</summary>
    public bool DependsOnVarying(SyntaxNode node)
    {
        foreach (SyntaxNode n in node.DescendantNodesAndSelf())
        {
            if (n is IdentifierNameSyntax id && SymbolOf(id) is { } s && Varying.Contains(s))
                return true;
            if (n is VariableDeclaratorSyntax d && SymbolOf(d) is { } local && Varying.Contains(local))
                return true;
            // A reduction's result is known only in the rule's second pass: code using it stays in the loop body.
            if (n is InvocationExpressionSyntax && IsReduction(SymbolOf(n)))
                return true;
        }
        return false;
    }

    /// <summary>Whether <paramref name="symbol"/> is a method of <c>Kernels.Reduce</c>.</summary>
    public static bool IsReduction(ISymbol? symbol) =>
        symbol is IMethodSymbol { ContainingType: { Name: "Reduce", ContainingType: null, ContainingNamespace: { Name: "Kernels", ContainingNamespace.IsGlobalNamespace: true } } };

    /// <summary>
    /// Whether <paramref name="node"/> sits in the arm of an <c>if</c> or <c>?:</c> whose condition is per-element,
    /// between it and the scope that declares <paramref name="local"/> (a condition around the declaration itself
    /// encloses every use too, so it does not make the value differ between elements).
    /// </summary>
    public bool IsUnderElementCondition(SyntaxNode node, ILocalSymbol? local = null)
    {
        SyntaxNode? scope = local?.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax()
            .Ancestors().FirstOrDefault(a => a is BlockSyntax or SwitchSectionSyntax);
        for (SyntaxNode? child = node, parent = node.Parent; parent is not null && child != _body && child != scope; child = parent, parent = parent.Parent)
        {
            if (parent is IfStatementSyntax ifs && child != ifs.Condition && DependsOnVarying(ifs.Condition))
                return true;
            if (parent is ElseClauseSyntax && parent.Parent is IfStatementSyntax elseOf && DependsOnVarying(elseOf.Condition))
                return true;
            if (parent is ConditionalExpressionSyntax c && child != c.Condition && DependsOnVarying(c.Condition))
                return true;
        }
        return false;
    }

    private void Run()
    {
        List<SyntaxNode> nodes = _body.DescendantNodesAndSelf().ToList();
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (SyntaxNode node in nodes)
            {
                switch (node)
                {
                    // A declaration's own scope lies inside any condition around it: only its value decides.
                    case VariableDeclaratorSyntax { Initializer: { } init } declarator
                        when SymbolOf(declarator) is ILocalSymbol local && !Varying.Contains(local)
                             && DependsOnVarying(init.Value):
                        changed |= Varying.Add(local);
                        break;
                    case AssignmentExpressionSyntax assignment
                        when SymbolOf(assignment.Left) is ILocalSymbol local && !Varying.Contains(local)
                             && (DependsOnVarying(assignment.Right) || IsUnderElementCondition(assignment, local)):
                        changed |= Varying.Add(local);
                        break;
                    case PrefixUnaryExpressionSyntax or PostfixUnaryExpressionSyntax
                        when IsIncrementOrDecrement(node) && SymbolOf(Operand(node)) is ILocalSymbol local
                             && !Varying.Contains(local) && IsUnderElementCondition(node, local):
                        changed |= Varying.Add(local);
                        break;
                }
            }
        }
    }

    public static bool IsIncrementOrDecrement(SyntaxNode node) => node.Kind() is
        SyntaxKind.PreIncrementExpression or SyntaxKind.PreDecrementExpression or
        SyntaxKind.PostIncrementExpression or SyntaxKind.PostDecrementExpression;

    public static ExpressionSyntax Operand(SyntaxNode node) => node switch
    {
        PrefixUnaryExpressionSyntax p => p.Operand,
        PostfixUnaryExpressionSyntax p => p.Operand,
        _ => throw new System.ArgumentException("not a unary expression", nameof(node)),
    };
}

using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator.Lowering;

/// <summary>
/// Rewrites uniform code (hoisted expressions and statements) so it means the same thing in the
/// generated file, whatever usings the rule's file has: type names become <c>global::</c>-qualified
/// and bare static members gain their containing type. Parameters and locals keep their names, since
/// the span overload declares the same parameters.
/// </summary>
internal sealed class UniformRewriter : CSharpSyntaxRewriter
{
    private static readonly SymbolDisplayFormat s_format = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    private readonly SemanticModel _model;
    private readonly IReadOnlyDictionary<ISymbol, string>? _locals;

    /// <param name="locals">The emitted name of each local of the rule (hoisting flattens scopes, so repeats are renamed).</param>
    public UniformRewriter(SemanticModel model, IReadOnlyDictionary<ISymbol, string>? locals = null)
    {
        _model = model;
        _locals = locals;
    }

    /// <summary>The node's text, rewritten to be independent of the file's usings.</summary>
    public static string Rewrite(SemanticModel model, SyntaxNode node, IReadOnlyDictionary<ISymbol, string>? locals = null)
    {
        SyntaxNode rewritten = new UniformRewriter(model, locals).Visit(node);
        return rewritten.WithoutTrivia().ToString();
    }

    private SyntaxToken Renamed(SyntaxToken identifier, ISymbol? symbol) =>
        symbol is ILocalSymbol && _locals is not null && _locals.TryGetValue(symbol, out string? name) && name != identifier.Text
            ? SyntaxFactory.Identifier(name).WithTriviaFrom(identifier)
            : identifier;

    public override SyntaxNode? VisitVariableDeclarator(VariableDeclaratorSyntax node)
    {
        var visited = (VariableDeclaratorSyntax)base.VisitVariableDeclarator(node)!;
        return visited.WithIdentifier(Renamed(node.Identifier, _model.GetDeclaredSymbol(node)));
    }

    public override SyntaxNode? VisitSingleVariableDesignation(SingleVariableDesignationSyntax node) =>
        node.WithIdentifier(Renamed(node.Identifier, _model.GetDeclaredSymbol(node)));

    public override SyntaxNode? VisitForEachStatement(ForEachStatementSyntax node)
    {
        var visited = (ForEachStatementSyntax)base.VisitForEachStatement(node)!;
        return visited.WithIdentifier(Renamed(node.Identifier, _model.GetDeclaredSymbol(node)));
    }

    public override SyntaxNode? VisitIdentifierName(IdentifierNameSyntax node)
    {
        if (!IsMemberName(node) && _model.GetSymbolInfo(node).Symbol is ILocalSymbol local)
            return node.WithIdentifier(Renamed(node.Identifier, local));
        if (node.IsVar || IsMemberName(node))
            return node;
        string? qualified = Qualify(node);
        return qualified is null ? node : Parse(qualified, node);
    }

    /// <summary>A type becomes a type name (valid where an expression is too: a type name is an expression); a member, an expression.</summary>
    private SyntaxNode Parse(string qualified, SimpleNameSyntax node) =>
        (_model.GetSymbolInfo(node).Symbol is INamespaceOrTypeSymbol
            ? SyntaxFactory.ParseTypeName(qualified)
            : SyntaxFactory.ParseExpression(qualified)).WithTriviaFrom(node);

    public override SyntaxNode? VisitGenericName(GenericNameSyntax node)
    {
        if (IsMemberName(node))
            return base.VisitGenericName(node);
        string? qualified = Qualify(node);
        return qualified is null ? base.VisitGenericName(node) : Parse(qualified, node);
    }

    public override SyntaxNode? VisitQualifiedName(QualifiedNameSyntax node)
    {
        // A.B.C written out: if it names a type or namespace, write it fully qualified at once.
        ISymbol? symbol = _model.GetSymbolInfo(node).Symbol;
        if (symbol is INamespaceOrTypeSymbol)
            return SyntaxFactory.ParseTypeName(symbol.ToDisplayString(s_format)).WithTriviaFrom(node);
        return base.VisitQualifiedName(node);
    }

    private static bool IsMemberName(SimpleNameSyntax node) =>
        node.Parent is MemberAccessExpressionSyntax access && access.Name == node
        || node.Parent is QualifiedNameSyntax qualified && qualified.Right == node
        || node.Parent is MemberBindingExpressionSyntax
        || node.Parent is NameEqualsSyntax
        || node.Parent is NameColonSyntax;

    private string? Qualify(SimpleNameSyntax node)
    {
        ISymbol? symbol = _model.GetSymbolInfo(node).Symbol;
        switch (symbol)
        {
            case INamespaceOrTypeSymbol type when type is not ITypeParameterSymbol:
                return type.ToDisplayString(s_format);
            case IMethodSymbol { IsStatic: true, MethodKind: MethodKind.Ordinary } method:
                return method.ContainingType.ToDisplayString(s_format) + "." + node.ToString();
            case IFieldSymbol { IsStatic: true } or IFieldSymbol { IsConst: true } or IPropertySymbol { IsStatic: true }:
                return symbol.ContainingType.ToDisplayString(s_format) + "." + node.Identifier.Text;
            default:
                return null;
        }
    }
}

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

    public UniformRewriter(SemanticModel model) => _model = model;

    /// <summary>The node's text, rewritten to be independent of the file's usings.</summary>
    public static string Rewrite(SemanticModel model, SyntaxNode node)
    {
        SyntaxNode rewritten = new UniformRewriter(model).Visit(node);
        return rewritten.WithoutTrivia().ToString();
    }

    public override SyntaxNode? VisitIdentifierName(IdentifierNameSyntax node)
    {
        if (node.IsVar || IsMemberName(node))
            return node;
        string? qualified = Qualify(node);
        return qualified is null ? node : SyntaxFactory.ParseExpression(qualified).WithTriviaFrom(node);
    }

    public override SyntaxNode? VisitGenericName(GenericNameSyntax node)
    {
        if (IsMemberName(node))
            return base.VisitGenericName(node);
        string? qualified = Qualify(node);
        return qualified is null ? base.VisitGenericName(node) : SyntaxFactory.ParseExpression(qualified).WithTriviaFrom(node);
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

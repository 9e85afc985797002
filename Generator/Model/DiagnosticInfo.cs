using System;
using Kernels.Generator.Helpers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Kernels.Generator.Model;

/// <summary>A location as plain data (a <see cref="Location"/> holds a syntax tree and would pin the compilation).</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null)
            return null;
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    public static LocationInfo? From(SyntaxNode node) => From(node.GetLocation());
    public static LocationInfo? From(SyntaxToken token) => From(token.GetLocation());
}

/// <summary>A diagnostic as data, reported from its own pipeline step.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public Diagnostic ToDiagnostic()
    {
        DiagnosticDescriptor descriptor = Diagnostics.DiagnosticDescriptors.ById(Id);
        object[] args = System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Cast<object>(Arguments));
        return Diagnostic.Create(descriptor, Location?.ToLocation(), args);
    }
}

/// <summary>What parsing one attributed method produced: a spec to emit (null on any error) and the diagnostics.</summary>
/// <remarks><see cref="Optimizer"/>: the rule's optimizer object, when one can be generated for it.</remarks>
internal sealed record RuleParseResult(RuleSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics, OptimizerSpec? Optimizer = null);

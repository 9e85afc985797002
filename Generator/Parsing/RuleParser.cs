using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Kernels.Generator.Diagnostics;
using Kernels.Generator.Helpers;
using Kernels.Generator.Lowering;
using Kernels.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator.Parsing;

/// <summary>
/// Turns one <c>[UpdateRule]</c> method into a <see cref="RuleSpec"/>: checks the declaration, then
/// lowers the body. Never throws: an unexpected failure becomes diagnostic KRN0900.
/// </summary>
internal static class RuleParser
{
    public const int MaxBuffers = 8;

    private static readonly SymbolDisplayFormat s_typeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    public static RuleParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var method = (MethodDeclarationSyntax)context.TargetNode;
        var diagnostics = new List<DiagnosticInfo>();
        try
        {
            RuleSpec? spec = ParseCore(method, (IMethodSymbol)context.TargetSymbol, context.SemanticModel, diagnostics, cancellationToken);
            return new RuleParseResult(spec, diagnostics.ToEquatableArray());
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e)
        {
            diagnostics.Add(new DiagnosticInfo(DiagnosticDescriptors.InternalError.Id, LocationInfo.From(method.Identifier),
                new[] { method.Identifier.ValueText, e.GetType().Name + ": " + e.Message }.ToEquatableArray()));
            return new RuleParseResult(null, diagnostics.ToEquatableArray());
        }
    }

    private static RuleSpec? ParseCore(
        MethodDeclarationSyntax method, IMethodSymbol symbol, SemanticModel model,
        List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        void Report(DiagnosticDescriptor descriptor, Location? location, params string[] args) =>
            diagnostics.Add(new DiagnosticInfo(descriptor.Id, LocationInfo.From(location), args.ToEquatableArray()));

        string methodName = symbol.Name;
        Location nameLocation = method.Identifier.GetLocation();

        // --- Declaration ---------------------------------------------------------------------
        var containingTypes = new List<ContainingTypeSpec>();
        for (SyntaxNode? node = method.Parent; node is TypeDeclarationSyntax type; node = node.Parent)
        {
            if (!type.Modifiers.Any(SyntaxKind.PartialKeyword))
                Report(DiagnosticDescriptors.TypeNotPartial, type.Identifier.GetLocation(), type.Identifier.ValueText, methodName);
            if (type.TypeParameterList is not null)
                Report(DiagnosticDescriptors.GenericRule, type.Identifier.GetLocation(), methodName);
            containingTypes.Insert(0, new ContainingTypeSpec(TypeKeyword(type), type.Identifier.ValueText, type.Modifiers.Any(SyntaxKind.StaticKeyword)));
        }
        if (symbol.IsGenericMethod)
            Report(DiagnosticDescriptors.GenericRule, nameLocation, methodName);
        if (!symbol.IsStatic)
            Report(DiagnosticDescriptors.RuleNotStatic, nameLocation, methodName);
        if (!symbol.ReturnsVoid)
            Report(DiagnosticDescriptors.RuleNotVoid, method.ReturnType.GetLocation(), methodName);
        SyntaxNode? body = (SyntaxNode?)method.Body ?? method.ExpressionBody;
        if (body is null)
            Report(DiagnosticDescriptors.MissingBody, nameLocation, methodName);

        int rulesWithThisName = symbol.ContainingType.GetMembers(methodName).OfType<IMethodSymbol>()
            .Count(m => m.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == "Kernels.UpdateRuleAttribute"));
        if (rulesWithThisName > 1)
            Report(DiagnosticDescriptors.DuplicateRuleName, nameLocation, symbol.ContainingType.Name, methodName);

        // --- Parameters ----------------------------------------------------------------------
        ITypeSymbol? elementType = null;
        var elementParameters = new List<IParameterSymbol>();
        bool anyRef = false;
        foreach (IParameterSymbol p in symbol.Parameters)
        {
            Location location = p.Locations.FirstOrDefault() ?? nameLocation;
            if (p.RefKind == RefKind.Out || p.IsParams)
            {
                Report(DiagnosticDescriptors.UnsupportedParameterModifier, location, p.Name, p.RefKind == RefKind.Out ? "out" : "params");
                continue;
            }
            if (p.RefKind == RefKind.None)
                continue;

            string modifier = p.RefKind == RefKind.Ref ? "ref" : "in";
            if (p.Type.SpecialType is not (SpecialType.System_Single or SpecialType.System_Double))
            {
                Report(DiagnosticDescriptors.BadElementType, location, p.Name, modifier, p.Type.ToDisplayString());
                continue;
            }
            if (elementType is null)
                elementType = p.Type;
            else if (!SymbolEqualityComparer.Default.Equals(elementType, p.Type))
                Report(DiagnosticDescriptors.MixedElementTypes, location, p.Name, p.Type.ToDisplayString(), elementType.ToDisplayString());
            anyRef |= p.RefKind == RefKind.Ref;
            elementParameters.Add(p);
        }
        if (!anyRef && diagnostics.Count == 0)
            Report(DiagnosticDescriptors.NoRefParameter, nameLocation, methodName);
        if (elementParameters.Count > MaxBuffers)
            Report(DiagnosticDescriptors.TooManyBuffers, nameLocation, methodName, elementParameters.Count.ToString(), MaxBuffers.ToString());

        if (diagnostics.Count > 0 || elementType is null || body is null)
            return null;

        if (!elementParameters.Any(p => p.RefKind != RefKind.Ref))
        {
            IParameterSymbol? suspect = symbol.Parameters.FirstOrDefault(p => p.RefKind == RefKind.None && SymbolEqualityComparer.Default.Equals(p.Type, elementType));
            Report(DiagnosticDescriptors.NoPerElementInput, nameLocation,
                DiagnosticDescriptors.NoPerElementInputArguments(methodName, suspect?.Name, elementType.ToDisplayString()));
        }
        int declarationReports = diagnostics.Count;

        // --- Body ----------------------------------------------------------------------------
        List<string> allNames = symbol.Parameters.Select(p => p.Name)
            .Concat(body.DescendantNodes().OfType<VariableDeclaratorSyntax>().Select(d => d.Identifier.ValueText))
            .Concat(body.DescendantNodes().OfType<SingleVariableDesignationSyntax>().Select(d => d.Identifier.ValueText))
            .Concat(new[] { methodName })
            // The span overloads and the kernel struct live in the rule's type: avoid its members' names too.
            .Concat(symbol.ContainingType.MemberNames).ToList();
        var lowerer = new RuleLowerer(model, elementType, body, elementParameters, allNames, diagnostics, cancellationToken);
        (EquatableArray<ElementStmt> loweredBody, EquatableArray<ElementStmt> reductionBody) = lowerer.SplitReductions(lowerer.LowerBody(body));

        var parameters = new List<ParameterSpec>();
        foreach (IParameterSymbol p in symbol.Parameters)
        {
            string name = RuleLowerer.Escape(p.Name);
            string? defaultValue = null;
            if (p.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken) is ParameterSyntax { Default: { } defaultClause })
                defaultValue = UniformRewriter.Rewrite(model, defaultClause.Value);

            if (p.RefKind is RefKind.Ref or RefKind.In or RefKind.RefReadOnlyParameter)
            {
                (bool read, bool written, string? guard) = lowerer.BufferAccess(name);
                ParameterRole role = p.RefKind == RefKind.Ref ? ParameterRole.Ref : ParameterRole.In;
                parameters.Add(new ParameterSpec(name, role, p.Type.ToDisplayString(s_typeFormat), null, "", read, written, guard));
            }
            else
            {
                parameters.Add(new ParameterSpec(name, ParameterRole.Uniform, p.Type.ToDisplayString(s_typeFormat), defaultValue,
                    p.ScopedKind == ScopedKind.ScopedValue ? "scoped" : "", IsRead: true, IsWritten: false, Guard: null));
            }
        }

        string signature = methodName + "(" + string.Join(", ", symbol.Parameters.Select(p =>
            (p.RefKind switch { RefKind.Ref => "ref ", RefKind.In => "in ", RefKind.RefReadOnlyParameter => "ref readonly ", _ => "" })
            + p.Type.ToDisplayString(s_typeFormat))) + ")";

        // Raw names (no @): the emitters escape each part, the hint name must not contain '@'.
        var namespaces = new List<string>();
        for (INamespaceSymbol? n = symbol.ContainingNamespace; n is { IsGlobalNamespace: false }; n = n.ContainingNamespace)
            namespaces.Insert(0, n.Name);
        string? ns = namespaces.Count == 0 ? null : string.Join(".", namespaces);
        // A rule whose body has an error keeps its overloads' signatures (no loops), so a caller sees the KRN error.
        bool hasErrors = diagnostics.Skip(declarationReports).Any(d => DiagnosticDescriptors.ById(d.Id).DefaultSeverity == DiagnosticSeverity.Error);
        return new RuleSpec(
            ns,
            containingTypes.ToEquatableArray(),
            RuleLowerer.Escape(methodName),
            Accessibility(symbol.DeclaredAccessibility),
            elementType.SpecialType == SpecialType.System_Double ? ScalarType.Float64 : ScalarType.Float32,
            hasErrors ? parameters.Select(p => p with { Guard = null }).ToEquatableArray() : parameters.ToEquatableArray(),
            hasErrors ? EquatableArray<string>.Empty : lowerer.Prologue.ToEquatableArray(),
            hasErrors ? EquatableArray<KernelInputSpec>.Empty : lowerer.KernelInputs.ToEquatableArray(),
            hasErrors ? EquatableArray<ElementStmt>.Empty : loweredBody,
            signature,
            allNames.Concat(lowerer.KernelInputs.Select(k => k.Name)).Concat(lowerer.Reductions.Select(r => r.Output))
                .Concat(lowerer.FaultName is null ? Array.Empty<string>() : new[] { lowerer.FaultName })
                .Select(x => x.TrimStart('@')).Distinct().OrderBy(x => x, StringComparer.Ordinal).ToEquatableArray(),
            hasErrors,
            hasErrors ? null : lowerer.FaultName,
            Reductions: hasErrors ? default : lowerer.Reductions.ToEquatableArray(),
            ReductionBody: hasErrors ? default : reductionBody);
    }

    private static string TypeKeyword(TypeDeclarationSyntax type) => type switch
    {
        RecordDeclarationSyntax r => r.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword) ? "record struct" : "record",
        StructDeclarationSyntax => "struct",
        InterfaceDeclarationSyntax => "interface",
        _ => "class",
    };

    private static string Accessibility(Accessibility accessibility) => accessibility switch
    {
        Microsoft.CodeAnalysis.Accessibility.Public => "public",
        Microsoft.CodeAnalysis.Accessibility.Internal => "internal",
        Microsoft.CodeAnalysis.Accessibility.Protected => "protected",
        Microsoft.CodeAnalysis.Accessibility.ProtectedOrInternal => "protected internal",
        Microsoft.CodeAnalysis.Accessibility.ProtectedAndInternal => "private protected",
        _ => "private",
    };
}

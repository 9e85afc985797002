using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Kernels.Generator.Emitters;
using Kernels.Generator.Helpers;
using Microsoft.CodeAnalysis;

namespace Kernels.Generator.Model;

/// <summary>A rule plan found on a referenced assembly: the rule's type (fully qualified), its method, and the serialized model.</summary>
internal sealed record ReferencedPlan(string RuleType, string Method, string Plan)
{
    private const string KernelsAssembly = "Kernels";

    /// <summary>
    /// The plans of the referenced assemblies whose GPU launchers this compilation should emit: rules it can call whose
    /// launchers no referenced assembly (nor this compilation's source) already declares. Plain strings, in a stable order,
    /// so the pipeline step compares equal while the references do not change.
    /// </summary>
    public static EquatableArray<ReferencedPlan> Find(Compilation compilation, CancellationToken cancellationToken)
    {
        var plans = new List<ReferencedPlan>();
        foreach (MetadataReference reference in compilation.References)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (compilation.GetAssemblyOrModuleSymbol(reference) is not IAssemblySymbol assembly)
                continue;
            // Only Kernels and assemblies built against it can carry plans: skip the framework and everything else cheaply.
            if (assembly.Name != KernelsAssembly && !assembly.Modules.Any(m => m.ReferencedAssemblies.Any(r => r.Name == KernelsAssembly)))
                continue;
            foreach (AttributeData attribute in assembly.GetAttributes())
            {
                if (attribute.AttributeClass?.ToDisplayString() != PlanEmitter.AttributeMetadataName
                    || attribute.ConstructorArguments.Length != 3
                    || attribute.ConstructorArguments[0].Value is not INamedTypeSymbol type
                    || attribute.ConstructorArguments[1].Value is not string method
                    || attribute.ConstructorArguments[2].Value is not string plan)
                    continue;
                if (!compilation.IsSymbolAccessibleWithin(type, compilation.Assembly)
                    || !type.GetMembers(method).OfType<IMethodSymbol>().Any(m => compilation.IsSymbolAccessibleWithin(m, compilation.Assembly)))
                    continue;
                // The rule's own assembly referenced ILGPU: its type already has the nested {Method}Gpu class and launchers.
                if (type.GetTypeMembers().Any(t => t.Name.EndsWith(method + "Gpu", System.StringComparison.Ordinal) && !t.GetMembers("MultiTensorKernel").IsEmpty))
                    continue;
                // Another assembly (Kernels.Gpu for the built-ins) or this compilation's source already declares the extension class.
                var typeNames = new List<string>();
                for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
                    typeNames.Insert(0, t.Name);
                string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() + "." : "";
                if (!compilation.GetTypesByMetadataName(ns + IlgpuEmitter.ExtensionClassName(typeNames, method)).IsEmpty)
                    continue;
                // The launchers run the rule's prologue and declare its defaults here: they must not use members this compilation cannot see.
                if (RuleSpecSerializer.TryDeserialize(plan) is not { } spec || UsesInaccessibleMember(compilation, type, spec))
                    continue;
                plans.Add(new ReferencedPlan(type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), method, plan));
            }
        }
        return plans.OrderBy(p => p.RuleType, System.StringComparer.Ordinal).ThenBy(p => p.Method, System.StringComparer.Ordinal).ToEquatableArray();
    }

    /// <summary>
    /// Whether the rule's uniform code (prologue, default values) names a member of the rule's type or of a type containing it
    /// (the only types whose private members a rule can use) that this compilation cannot access — a private constant or
    /// helper: such a rule gets no launchers here rather than launchers that do not compile.
    /// </summary>
    private static bool UsesInaccessibleMember(Compilation compilation, INamedTypeSymbol ruleType, RuleSpec spec)
    {
        string[] texts = spec.Prologue.Concat(spec.Parameters.Select(p => p.DefaultValue).OfType<string>()).ToArray();
        for (INamedTypeSymbol? t = ruleType; t is not null; t = t.ContainingType)
        {
            string prefix = t.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) + ".";
            foreach (string text in texts)
            {
                for (int at = text.IndexOf(prefix, System.StringComparison.Ordinal); at >= 0; at = text.IndexOf(prefix, at + 1, System.StringComparison.Ordinal))
                {
                    int start = at + prefix.Length, end = start;
                    while (end < text.Length && (char.IsLetterOrDigit(text[end]) || text[end] == '_' || text[end] == '@'))
                        end++;
                    string name = text.Substring(start, end - start).TrimStart('@');
                    // A private member of a referenced assembly is not even imported: no accessible member by that name is enough.
                    if (!t.GetMembers(name).Any(m => compilation.IsSymbolAccessibleWithin(m, compilation.Assembly)))
                        return true;
                }
            }
        }
        return false;
    }
}

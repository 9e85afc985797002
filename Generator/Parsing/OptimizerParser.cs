using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Xml.Linq;
using Kernels.Generator.Diagnostics;
using Kernels.Generator.Emitters;
using Kernels.Generator.Helpers;
using Kernels.Generator.Lowering;
using Kernels.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator.Parsing;

/// <summary>
/// Decides whether a rule gets an optimizer object and describes it (<see cref="OptimizerSpec"/>): the rule's first
/// <c>ref</c> parameter is the parameter, its one <c>in</c> parameter the gradient, the other <c>ref</c> parameters
/// state buffers, and its uniforms hyperparameters, except the step count and <c>[TensorState]</c> values, which the
/// optimizer supplies. A rule that does not fit gets no optimizer and an informational KRN0013 saying why; a misused
/// optimizer attribute is error KRN0014.
/// </summary>
internal static class OptimizerParser
{
    private const string AttributeNamespace = "Kernels.";

    /// <summary>Members of the options class's base (and of every object): a hyperparameter property cannot take these names.</summary>
    private static readonly HashSet<string> s_reservedProperties = new(StringComparer.Ordinal)
    {
        "Names", "Contains", "Copy", "Resolve", "ToSnakeCase", "Item", "GetValue", "SetValue", "ToInt32", "ToInt64",
        "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "Finalize", "ReferenceEquals",
    };

    private static readonly SymbolDisplayFormat s_typeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    public static OptimizerSpec? Parse(RuleSpec spec, IMethodSymbol symbol, Compilation compilation, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        Location location = symbol.Locations.FirstOrDefault() ?? Location.None;
        string method = symbol.Name;

        void Skip(string reason) => diagnostics.Add(new DiagnosticInfo(DiagnosticDescriptors.NoOptimizer.Id, LocationInfo.From(location), new[] { method, reason }.ToEquatableArray()));
        bool errors = false;
        void Error(ISymbol? at, string message)
        {
            errors = true;
            Location where = at?.Locations.FirstOrDefault() ?? location;
            diagnostics.Add(new DiagnosticInfo(DiagnosticDescriptors.BadOptimizerAttribute.Id, LocationInfo.From(where), new[] { method, message }.ToEquatableArray()));
        }

        AttributeData? rule = symbol.GetAttributes().FirstOrDefault(a => Is(a, "UpdateRuleAttribute"));
        if (rule?.NamedArguments.FirstOrDefault(n => n.Key == "GenerateOptimizer").Value is { Value: false })
            return null;
        if (spec.HasErrors)
            return null;

        INamedTypeSymbol type = symbol.ContainingType;
        List<ParameterSpec> buffers = spec.Parameters.Where(p => p.Role != ParameterRole.Uniform).ToList();
        List<ParameterSpec> inputs = buffers.Where(p => p.Role == ParameterRole.In).ToList();
        if (inputs.Count == 0)
            return null;   // KRN0012 already says the rule reads nothing per element
        if (inputs.Count != 1)
        {
            Skip($"it has {inputs.Count} read-only per-element parameters and an optimizer needs exactly one, the gradient (set [UpdateRule(GenerateOptimizer = false)] to silence this)");
            return null;
        }
        ParameterSpec param = buffers.First(p => p.Role == ParameterRole.Ref);
        if (param.Guard is not null)
        {
            Skip($"its first 'ref' parameter '{Raw(param.Name)}', the parameter an optimizer updates, is not touched on every step");
            return null;
        }
        if (type.TypeKind is not (TypeKind.Class or TypeKind.Struct))
        {
            Skip("an optimizer class can only be nested in a class or struct");
            return null;
        }
        string suffix = method == "Step" ? "" : method;
        string typeName = suffix + "Optimizer", optionsName = suffix + "Options";
        foreach (string name in new[] { typeName, optionsName })
        {
            if (type.MemberNames.Contains(name) || type.Name == name)
            {
                Skip($"its type already has a member named '{name}', the name of the optimizer class it would get");
                return null;
            }
        }

        // ---- Step count, per-tensor state, initial values --------------------------------------------------
        IParameterSymbol? step = null;
        var tensorStateSymbols = new List<(IParameterSymbol Parameter, AttributeData Attribute)>();
        var initialValues = new Dictionary<string, AttributeData>(StringComparer.Ordinal);
        var nonNegative = new HashSet<string>(StringComparer.Ordinal);
        foreach (IParameterSymbol p in symbol.Parameters)
        {
            bool uniform = p.RefKind == RefKind.None;
            foreach (AttributeData a in p.GetAttributes())
            {
                if (Is(a, "StepCountAttribute"))
                {
                    if (!uniform || !IsInteger(p.Type))
                        Error(p, $"[StepCount] parameter '{p.Name}' must be a by-value int or long");
                    else if (step is not null)
                        Error(p, $"only one parameter can be [StepCount] ('{step.Name}' already is)");
                    else
                        step = p;
                }
                else if (Is(a, "TensorStateAttribute"))
                {
                    if (!uniform || p.Type.SpecialType is not (SpecialType.System_Double or SpecialType.System_Single))
                        Error(p, $"[TensorState] parameter '{p.Name}' must be a by-value double or float");
                    else
                        tensorStateSymbols.Add((p, a));
                }
                else if (Is(a, "InitialValueAttribute"))
                {
                    if (p.RefKind != RefKind.Ref || p.Name == Raw(param.Name))
                        Error(p, $"[InitialValue] applies to a state buffer (a 'ref' parameter after the first), not to '{p.Name}'");
                    else
                        initialValues[p.Name] = a;
                }
                else if (Is(a, "NonNegativeAttribute"))
                {
                    if (p.RefKind != RefKind.Ref || p.Name == Raw(param.Name))
                        Error(p, $"[NonNegative] applies to a state buffer (a 'ref' parameter after the first), not to '{p.Name}'");
                    else
                        nonNegative.Add(p.Name);
                }
            }
        }
        step ??= symbol.Parameters.FirstOrDefault(p => p.Name == "step" && p.RefKind == RefKind.None && IsInteger(p.Type)
            && !tensorStateSymbols.Any(t => SymbolEqualityComparer.Default.Equals(t.Parameter, p)));

        // ---- Hyperparameters ---------------------------------------------------------------------------------
        Dictionary<string, string> docs = ParameterDocs(symbol, cancellationToken);
        var hyperparameters = new List<HyperparameterSpec>();
        var properties = new HashSet<string>(StringComparer.Ordinal);
        var uniformTypes = new List<ITypeSymbol>();
        foreach (IParameterSymbol p in symbol.Parameters.Where(p => p.RefKind == RefKind.None))
        {
            if (SymbolEqualityComparer.Default.Equals(p, step) || tensorStateSymbols.Any(t => SymbolEqualityComparer.Default.Equals(t.Parameter, p)))
                continue;
            ParameterSpec ps = spec.Parameters.First(x => Raw(x.Name) == p.Name);
            if (ps.Modifier.Length > 0 || p.Type.IsRefLikeType || p.Type.TypeKind is TypeKind.Pointer or TypeKind.FunctionPointer or TypeKind.Dynamic)
            {
                Skip($"hyperparameter '{p.Name}' ({p.Type.ToDisplayString()}{(ps.Modifier.Length > 0 ? ", " + ps.Modifier : "")}) cannot be a property of an options class");
                return null;
            }
            uniformTypes.Add(p.Type);
            hyperparameters.Add(new HyperparameterSpec(ps.Name, Pascal(p.Name), ps.TypeName, ps.DefaultValue, KindOf(p.Type), IsRuleParameter: true,
                docs.TryGetValue(p.Name, out string? doc) ? doc : null));
        }
        foreach (AttributeData a in symbol.GetAttributes().Where(a => Is(a, "HyperparameterAttribute")))
        {
            if (a.ConstructorArguments.Length != 2 || a.ConstructorArguments[0].Value is not string name || a.ConstructorArguments[1].Value is not double value)
                continue;
            if (!Microsoft.CodeAnalysis.CSharp.SyntaxFacts.IsValidIdentifier(name) || name.StartsWith("@", StringComparison.Ordinal))
            {
                Error(null, $"[Hyperparameter(\"{name}\")]: not a valid identifier");
                continue;
            }
            if (symbol.Parameters.Any(p => p.Name == name) || hyperparameters.Any(h => Raw(h.Name) == name))
            {
                Error(null, $"[Hyperparameter(\"{name}\")]: the rule already has a parameter or hyperparameter of that name");
                continue;
            }
            hyperparameters.Add(new HyperparameterSpec(RuleLowerer.Escape(name), Pascal(name), "double", Literal(value), HyperparameterKind.Double, IsRuleParameter: false, null));
        }
        // A property whose PascalCase name is taken (a member of the options class's base, the class itself, another
        // hyperparameter) gets a trailing underscore: the by-name key and the constructor parameter keep the rule's name.
        for (int i = 0; i < hyperparameters.Count; i++)
        {
            string property = hyperparameters[i].Property;
            while (s_reservedProperties.Contains(property.TrimStart('@')) || property.TrimStart('@') == optionsName || !properties.Add(property.TrimStart('@')))
                property = property.TrimStart('@') + "_";
            hyperparameters[i] = hyperparameters[i] with { Property = property };
        }

        // ---- State buffers ---------------------------------------------------------------------------------
        var state = new List<StateBufferSpec>();
        foreach (ParameterSpec b in buffers.Where(b => b.Role == ParameterRole.Ref && b != param))
        {
            string? initial = null;
            if (initialValues.TryGetValue(Raw(b.Name), out AttributeData? a) && a.ConstructorArguments.Length == 1)
            {
                object? value = a.ConstructorArguments[0].Value;
                if (value is double d)
                {
                    initial = BitConverter.DoubleToInt64Bits(d) == 0 ? null : $"({spec.ElementType}){Literal(d)}";
                }
                else if (value is string name)
                {
                    HyperparameterSpec? h = hyperparameters.FirstOrDefault(x => Raw(x.Name) == name);
                    if (h is null || h.Kind is HyperparameterKind.Bool or HyperparameterKind.Other)
                        Error(symbol.Parameters.First(p => p.Name == Raw(b.Name)), $"[InitialValue(\"{name}\")] on '{Raw(b.Name)}' must name a numeric hyperparameter of the rule");
                    else
                        initial = $"({spec.ElementType})__options.{h.Property}";
                }
            }
            state.Add(new StateBufferSpec(b.Name, initial, nonNegative.Contains(Raw(b.Name))));
        }

        // ---- Per-tensor state ------------------------------------------------------------------------------
        string containing = ContainingTypeName(spec);
        var tensorState = new List<TensorStateSpec>();
        foreach ((IParameterSymbol p, AttributeData a) in tensorStateSymbols)
        {
            string? update = a.ConstructorArguments.FirstOrDefault().Value as string;
            double initial = a.NamedArguments.FirstOrDefault(n => n.Key == "Initial").Value.Value is double i ? i : 0;
            string? why = null;
            string? call = update is null ? null : BindUpdate(type, update, p, step, hyperparameters, symbol, compilation, containing, out why);
            if (call is null)
            {
                Error(p, $"[TensorState] on '{p.Name}': {(update is null ? "the update method's name is missing" : why)}");
                continue;
            }
            bool afterStep = a.NamedArguments.FirstOrDefault(n => n.Key == "AfterStep").Value.Value is true;
            string initialText = Literal(initial);
            if (a.NamedArguments.FirstOrDefault(n => n.Key == "InitialHyperparameter").Value.Value is string from)
            {
                HyperparameterSpec? h = hyperparameters.FirstOrDefault(x => Raw(x.Name) == from);
                if (h is null || h.Kind is HyperparameterKind.Bool or HyperparameterKind.Other)
                {
                    Error(p, $"[TensorState(InitialHyperparameter = \"{from}\")] on '{p.Name}' must name a numeric hyperparameter of the rule");
                    continue;
                }
                initialText = $"(double)__options.{h.Property}";
            }
            tensorState.Add(new TensorStateSpec(RuleLowerer.Escape(p.Name), p.Type.ToDisplayString(s_typeFormat), initialText, call, afterStep));
        }
        if (errors)
            return null;

        string? accessibility = AccessibilityOf(symbol, uniformTypes);
        if (accessibility is null)
        {
            Skip("a hyperparameter's type is less accessible than the rule's type");
            return null;
        }

        string ruleName = string.Join(".", (spec.Namespace is null ? Array.Empty<string>() : new[] { spec.Namespace })
            .Concat(spec.ContainingTypes.Select(t => t.Name)).Append(method));
        return new OptimizerSpec(spec, typeName, optionsName, accessibility, containing, ruleName,
            hyperparameters.ToEquatableArray(), state.ToEquatableArray(), tensorState.ToEquatableArray(),
            step is null ? null : RuleLowerer.Escape(step.Name), step?.Type.ToDisplayString(s_typeFormat));
    }

    /// <summary>The rule's type as generated code names it from anywhere: <c>global::Ns.Outer.Inner</c>.</summary>
    public static string ContainingTypeName(RuleSpec spec) =>
        "global::" + string.Join(".", (spec.Namespace is null ? Array.Empty<string>() : spec.Namespace.Split('.'))
            .Concat(spec.ContainingTypes.Select(t => t.Name)).Select(EmitterCommon.Escape));

    private static string? BindUpdate(INamedTypeSymbol type, string update, IParameterSymbol target, IParameterSymbol? step,
        List<HyperparameterSpec> hyperparameters, IMethodSymbol rule, Compilation compilation, string containing, out string? why)
    {
        why = $"no static method '{update}' of '{type.Name}' takes the previous value ({target.Type.ToDisplayString()}) first and returns the next";
        foreach (IMethodSymbol m in type.GetMembers(update).OfType<IMethodSymbol>())
        {
            if (!m.IsStatic || m.IsGenericMethod || m.Parameters.Length == 0 || m.Parameters[0].RefKind != RefKind.None
                || !SymbolEqualityComparer.Default.Equals(m.ReturnType, target.Type)
                || !compilation.ClassifyCommonConversion(target.Type, m.Parameters[0].Type).IsImplicit)
                continue;
            var arguments = new List<string> { "{0}" };
            string? unbound = null;
            foreach (IParameterSymbol q in m.Parameters.Skip(1))
            {
                string name = RuleLowerer.Escape(q.Name);
                if (q.RefKind != RefKind.None)
                {
                    unbound = q.Name;
                    break;
                }
                // The optimizer knows the step count whether or not the rule takes it.
                if (q.Name == "step" || (step is not null && q.Name == step.Name))
                {
                    if (q.Type.SpecialType == SpecialType.System_Int64)
                        arguments.Add($"{name}: __batch.Step");
                    else if (q.Type.SpecialType == SpecialType.System_Int32)
                        arguments.Add($"{name}: checked((int)__batch.Step)");
                    else if (compilation.ClassifyCommonConversion(compilation.GetSpecialType(SpecialType.System_Int64), q.Type).IsImplicit)
                        arguments.Add($"{name}: __batch.Step");
                    else
                        unbound = q.Name;
                    continue;
                }
                HyperparameterSpec? h = hyperparameters.FirstOrDefault(x => Raw(x.Name) == q.Name);
                IParameterSymbol? source = rule.Parameters.FirstOrDefault(p => p.Name == q.Name);
                if (h is not null && (source is null ? compilation.ClassifyCommonConversion(compilation.GetSpecialType(SpecialType.System_Double), q.Type).IsImplicit
                                                     : compilation.ClassifyCommonConversion(source.Type, q.Type).IsImplicit))
                {
                    arguments.Add($"{name}: __options.{h.Property}");
                    continue;
                }
                if (q.HasExplicitDefaultValue)
                    continue;
                unbound = q.Name;
                break;
            }
            if (unbound is not null)
            {
                why = $"parameter '{unbound}' of '{update}' is neither the step count, a hyperparameter of the rule, nor optional";
                continue;
            }
            why = null;
            return $"{containing}.{RuleLowerer.Escape(m.Name)}({string.Join(", ", arguments)})";
        }
        return null;
    }

    /// <summary>public, internal or private: at most the rule's, and no more than its hyperparameters' types allow.</summary>
    private static string? AccessibilityOf(IMethodSymbol rule, List<ITypeSymbol> types)
    {
        int level = rule.DeclaredAccessibility switch
        {
            Accessibility.Public => 2,
            Accessibility.Internal or Accessibility.ProtectedOrInternal => 1,
            _ => 0,
        };
        foreach (ITypeSymbol t in types)
            level = Math.Min(level, Level(t));
        return level switch { 2 => "public", 1 => "internal", 0 => "private", _ => null };
    }

    /// <summary>2 public, 1 internal, 0 visible only inside some type (private or protected), by the type and everything it is built from.</summary>
    private static int Level(ITypeSymbol type)
    {
        switch (type)
        {
            case IArrayTypeSymbol array:
                return Level(array.ElementType);
            case ITypeParameterSymbol:
                return -1;
            case INamedTypeSymbol named:
                int level = 2;
                for (INamedTypeSymbol? t = named; t is not null; t = t.ContainingType)
                {
                    level = Math.Min(level, t.DeclaredAccessibility switch
                    {
                        Accessibility.Public => 2,
                        Accessibility.Internal or Accessibility.ProtectedOrInternal => 1,
                        _ => 0,
                    });
                }
                foreach (ITypeSymbol argument in named.TypeArguments)
                    level = Math.Min(level, Level(argument));
                return level;
            default:
                return 2;
        }
    }

    private static bool Is(AttributeData a, string name) =>
        a.AttributeClass is { } c && c.Name == name && c.ContainingNamespace?.ToDisplayString() + "." == AttributeNamespace;

    private static bool IsInteger(ITypeSymbol type) => type.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64;

    private static HyperparameterKind KindOf(ITypeSymbol type) => type.SpecialType switch
    {
        SpecialType.System_Double => HyperparameterKind.Double,
        SpecialType.System_Single => HyperparameterKind.Single,
        SpecialType.System_Int32 => HyperparameterKind.Int32,
        SpecialType.System_Int64 => HyperparameterKind.Int64,
        SpecialType.System_Boolean => HyperparameterKind.Bool,
        _ => HyperparameterKind.Other,
    };

    private static string Raw(string name) => name.TrimStart('@');

    /// <summary><c>weightDecay</c> → <c>WeightDecay</c>, escaped if that is a keyword.</summary>
    private static string Pascal(string name)
    {
        string raw = Raw(name);
        return RuleLowerer.Escape(char.ToUpperInvariant(raw[0]) + raw.Substring(1));
    }

    /// <summary>A double as C# source that reads back as the same value.</summary>
    public static string Literal(double value) =>
        double.IsNaN(value) ? "double.NaN"
        : double.IsPositiveInfinity(value) ? "double.PositiveInfinity"
        : double.IsNegativeInfinity(value) ? "double.NegativeInfinity"
        : value.ToString("R", CultureInfo.InvariantCulture) is var s && (s.Contains(".") || s.Contains("E")) ? s : s + ".0";

    /// <summary>The rule's <c>&lt;param&gt;</c> docs as summary text: crefs and paramrefs become <c>&lt;c&gt;</c> (they may not resolve where the text lands).</summary>
    private static Dictionary<string, string> ParameterDocs(IMethodSymbol symbol, CancellationToken cancellationToken)
    {
        var docs = new Dictionary<string, string>(StringComparer.Ordinal);
        string? xml = symbol.GetDocumentationCommentXml(cancellationToken: cancellationToken);
        if (string.IsNullOrWhiteSpace(xml))
            return docs;
        try
        {
            XElement root = XElement.Parse(xml);
            foreach (XElement p in root.Elements("param"))
            {
                string? name = (string?)p.Attribute("name");
                if (name is null)
                    continue;
                var text = new StringBuilder();
                Flatten(p, text);
                string flat = string.Join(" ", text.ToString().Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())).Trim();
                if (flat.Length > 0)
                    docs[name] = flat;
            }
        }
        catch (System.Xml.XmlException)
        {
            // Malformed docs are the compiler's to report; the generated members get generic ones.
        }
        return docs;
    }

    private static void Flatten(XElement element, StringBuilder text)
    {
        foreach (XNode node in element.Nodes())
        {
            if (node is XText t)
            {
                text.Append(Escape(t.Value));
            }
            else if (node is XElement e)
            {
                string? reference = (string?)e.Attribute("cref") ?? (string?)e.Attribute("name") ?? (string?)e.Attribute("langword");
                if (e.Name.LocalName is "see" or "seealso" or "paramref" or "typeparamref")
                {
                    string shown = e.Value.Length > 0 ? e.Value : reference is null ? "" : reference.Length > 2 && reference[1] == ':' ? reference.Substring(2) : reference;
                    text.Append("<c>").Append(Escape(shown)).Append("</c>");
                }
                else if (e.Name.LocalName is "c" or "code")
                {
                    text.Append("<c>").Append(Escape(e.Value)).Append("</c>");
                }
                else
                {
                    Flatten(e, text);
                }
            }
        }
    }

    private static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}

using System.Linq;
using System.Threading;
using Kernels.Generator.Emitters;
using Kernels.Generator.Helpers;
using Kernels.Generator.Model;
using Kernels.Generator.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator;

/// <summary>
/// Finds methods marked <c>[Kernels.UpdateRule]</c> and adds, beside each, a span overload that runs
/// the rule over whole buffers in one fused, vectorized (and, above a size threshold, multi-threaded) pass.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class UpdateRuleGenerator : IIncrementalGenerator
{
    public const string AttributeName = "Kernels.UpdateRuleAttribute";

    /// <summary>Tracking name of the step that produces each rule's model (used by the incrementality tests).</summary>
    public const string ParseStep = "ParseUpdateRule";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<RuleParseResult> rules = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                AttributeName,
                static (node, _) => node is MethodDeclarationSyntax,
                static (ctx, ct) => Parse(ctx, ct))
            .WithTrackingName(ParseStep);

        // Diagnostics travel as data and are reported on their own, so they never force re-emission.
        context.RegisterSourceOutput(rules.Select(static (r, _) => r.Diagnostics), static (spc, diagnostics) =>
        {
            foreach (DiagnosticInfo diagnostic in diagnostics)
                spc.ReportDiagnostic(diagnostic.ToDiagnostic());
        });

        IncrementalValuesProvider<RuleSpec> specs = rules
            .Where(static r => r.Spec is not null)
            .Select(static (r, _) => r.Spec!);

        context.RegisterSourceOutput(specs, static (spc, spec) =>
            spc.AddSource(spec.HintName, RuleEmitter.Emit(spec)));

        // The storage overloads of each float rule (buffers held as float, bfloat16 or fp16), in a file of their own.
        context.RegisterSourceOutput(specs.Where(static spec => RuleEmitter.HasStorageOverloads(spec)), static (spc, spec) =>
            spc.AddSource(RuleEmitter.StorageHintName(spec), RuleEmitter.EmitStorage(spec)));

        // The optimizer object of each rule shaped like a parameter update, where the runtime's training API is visible.
        IncrementalValueProvider<bool> hasTrainingApi = context.CompilationProvider.Select(static (compilation, _) =>
            compilation.GetTypeByMetadataName(TrainingApiMetadataName) is not null);
        IncrementalValuesProvider<OptimizerSpec> optimizers = rules
            .Where(static r => r.Optimizer is not null)
            .Select(static (r, _) => r.Optimizer!);
        context.RegisterSourceOutput(optimizers.Combine(hasTrainingApi).Where(static pair => pair.Right), static (spc, pair) =>
            spc.AddSource(OptimizerEmitter.HintName(pair.Left), OptimizerEmitter.Emit(pair.Left)));

        // GPU kernels and launchers, only where the compilation references ILGPU and the Kernels GPU runtime;
        // the compilation is reduced to one bool, so edits elsewhere never re-emit.
        IncrementalValueProvider<bool> hasIlgpu = context.CompilationProvider.Select(static (compilation, _) =>
            compilation.GetTypeByMetadataName(IlgpuEmitter.AcceleratorMetadataName) is not null
            && compilation.GetTypeByMetadataName(IlgpuEmitter.RuntimeMetadataName) is not null);
        context.RegisterSourceOutput(specs.Combine(hasIlgpu).Where(static pair => pair.Right && !pair.Left.HasErrors), static (spc, pair) =>
            spc.AddSource(IlgpuEmitter.HintName(pair.Left), IlgpuEmitter.Emit(pair.Left)));

        // Every rule's model, as [assembly: RulePlan(...)], wherever the runtime's attribute is visible: a compilation that
        // references this one, ILGPU and Kernels.Gpu emits the rule's GPU launchers from it (Kernels.Gpu does so for the built-ins).
        IncrementalValueProvider<bool> hasPlanAttribute = context.CompilationProvider.Select(static (compilation, _) =>
            compilation.GetTypeByMetadataName(PlanEmitter.AttributeMetadataName) is not null);
        context.RegisterSourceOutput(specs.Combine(hasPlanAttribute).Where(static pair => pair.Right && pair.Left.ExportsPlan && !pair.Left.HasErrors), static (spc, pair) =>
            spc.AddSource(PlanEmitter.HintName(pair.Left), PlanEmitter.Emit(pair.Left)));

        // The GPU launchers of the referenced assemblies' rules (as static extension members of their types), where this
        // compilation can use the GPU part and nothing referenced declares them yet. The compilation is reduced to the plans'
        // strings, so edits of this compilation's source never re-emit them.
        // The launchers are extension members: C# 14 or later (an older language version gets none).
        IncrementalValueProvider<EquatableArray<ReferencedPlan>> referencedPlans = context.CompilationProvider.Select(static (compilation, ct) =>
            compilation is CSharpCompilation { LanguageVersion: var version } && (int)version >= ExtensionMembersLanguageVersion
            && compilation.GetTypeByMetadataName(IlgpuEmitter.AcceleratorMetadataName) is not null
            && compilation.GetTypeByMetadataName(IlgpuEmitter.RuntimeMetadataName) is not null
                ? ReferencedPlan.Find(compilation, ct)
                : EquatableArray<ReferencedPlan>.Empty);
        IncrementalValuesProvider<RuleSpec> referencedSpecs = referencedPlans
            .SelectMany(static (plans, _) => plans)
            .Select(static (plan, _) => RuleSpecSerializer.TryDeserialize(plan.Plan))
            .Where(static spec => spec is { HasErrors: false })
            .Select(static (spec, _) => spec!);
        context.RegisterSourceOutput(referencedSpecs, static (spc, spec) =>
            spc.AddSource(IlgpuEmitter.ExtensionHintName(spec), IlgpuEmitter.EmitExtensions(spec)));
    }

    /// <summary>The generated optimizers' base class: without it (an old runtime) no optimizer is emitted.</summary>
    private const string TrainingApiMetadataName = "Kernels.Training.Optimizer`2";

    /// <summary>C# 14 (<c>LanguageVersion.CSharp14</c>, which the referenced Roslyn 4.14 does not name yet), or preview.</summary>
    private const int ExtensionMembersLanguageVersion = 1400;

    /// <summary>Parses the rule and notes whether its plan can be exported (its type can be named from assembly level).</summary>
    private static RuleParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        RuleParseResult result = RuleParser.Parse(context, cancellationToken);
        if (result.Spec is { HasErrors: false } spec && CanBeNamedFromAssemblyLevel(context.TargetSymbol.ContainingType))
            result = result with { Spec = spec with { ExportsPlan = true } };
        if (result.Spec is { } parsed && context.TargetSymbol is IMethodSymbol method)
        {
            var diagnostics = new System.Collections.Generic.List<DiagnosticInfo>(result.Diagnostics);
            OptimizerSpec? optimizer;
            try
            {
                optimizer = OptimizerParser.Parse(parsed, method, context.SemanticModel.Compilation, diagnostics, cancellationToken);
            }
            catch (System.Exception e) when (e is not System.OperationCanceledException)
            {
                optimizer = null;
                diagnostics.Add(new DiagnosticInfo(Diagnostics.DiagnosticDescriptors.InternalError.Id, LocationInfo.From(method.Locations.FirstOrDefault()),
                    new[] { method.Name, e.GetType().Name + ": " + e.Message }.ToEquatableArray()));
            }
            result = result with { Diagnostics = diagnostics.ToEquatableArray(), Optimizer = optimizer };
        }
        return result;
    }

    private static bool CanBeNamedFromAssemblyLevel(INamedTypeSymbol? type)
    {
        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
        {
            if (t.IsFileLocal || t.IsGenericType
                || t.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal))
                return false;
        }
        return type is not null;
    }
}

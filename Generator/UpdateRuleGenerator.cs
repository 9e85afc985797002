using Kernels.Generator.Emitters;
using Kernels.Generator.Model;
using Kernels.Generator.Parsing;
using Microsoft.CodeAnalysis;
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
                static (ctx, ct) => RuleParser.Parse(ctx, ct))
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

        // GPU kernels and launchers, only where the compilation references ILGPU and the Kernels GPU runtime;
        // the compilation is reduced to one bool, so edits elsewhere never re-emit.
        IncrementalValueProvider<bool> hasIlgpu = context.CompilationProvider.Select(static (compilation, _) =>
            compilation.GetTypeByMetadataName(IlgpuEmitter.AcceleratorMetadataName) is not null
            && compilation.GetTypeByMetadataName(IlgpuEmitter.RuntimeMetadataName) is not null);
        context.RegisterSourceOutput(specs.Combine(hasIlgpu).Where(static pair => pair.Right && !pair.Left.HasErrors), static (spc, pair) =>
            spc.AddSource(IlgpuEmitter.HintName(pair.Left), IlgpuEmitter.Emit(pair.Left)));
    }
}

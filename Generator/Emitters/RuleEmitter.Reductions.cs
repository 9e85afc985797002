using System.Linq;
using Kernels.Generator.Helpers;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// A rule that calls <c>Kernels.Reduce</c> runs as two kernels over each tensor: the reduction pass (the statements
/// its reductions need, storing each argument to a cache-resident segment that <c>ReductionStep</c> sums in the fixed
/// order) and the update pass (the whole rule, each reduction read as a kernel input). Nothing but the reductions'
/// results passes between them: the update pass recomputes what the reduction pass computed.
/// </summary>
internal static partial class RuleEmitter
{
    private const string ReductionStep = CompilerServices + ".ReductionStep";

    /// <summary>The reduction pass as a rule of its own: every buffer read only, the reductions' outputs appended and written.</summary>
    internal static RuleSpec ReductionPass(RuleSpec spec) => spec with
    {
        MethodName = EmitterCommon.Raw(spec.MethodName) + "ReductionPass",
        // A buffer the pass neither reads nor assigns is not even loaded (LARS's momentum: its norms need p and g only).
        Parameters = spec.Parameters.Select(p => p.Role == ParameterRole.Uniform ? p : p with { IsWritten = false, IsRead = p.IsRead && Touches(spec.ReductionBody, p.Name) })
            .Concat(spec.Reductions.Select(r => new ParameterSpec(r.Output, ParameterRole.Ref, spec.ElementType, null, "", IsRead: false, IsWritten: true, Guard: null)))
            .ToEquatableArray(),
        Body = spec.ReductionBody,
        FaultName = null,
        ExportsPlan = false,
        Reductions = default,
        ReductionBody = default,
    };

    private static bool Touches(EquatableArray<ElementStmt> body, string buffer) =>
        Lowering.Ir.Expressions(body).Any(e => e is ElementRefExpr r && r.Name == buffer)
        || Lowering.Ir.Statements(body).Any(s => s is AssignStmt a && a.Target == buffer);

    /// <summary>The reduction pass's constructor from its update kernel: the same step-invariant values and gradient scale.</summary>
    private static void EmitReductionPassMembers(SourceWriter w, RuleSpec pass, InternalNames names, InternalNames update)
    {
        string source = names.PickName("update");
        w.Line("/// <summary>The update kernel's step-invariant values and gradient scale, so both passes compute the same values.</summary>");
        w.Open($"internal {names.KernelType}(in {update.KernelType} {source})");
        foreach (KernelInputSpec input in pass.KernelInputs)
            w.Line($"this.{names.FieldOf(input.Name)} = {source}.{update.FieldOf(input.Name)};");
        if (KernelNaming.HasGradScale(pass))
            w.Line($"this.{names.GradScale} = {source}.{update.GradScale};");
        w.Close();
        w.Line();
    }

    /// <summary>The update kernel's <c>WithReductions</c> and <c>RunTensor</c>.</summary>
    private static void EmitReductionMembers(SourceWriter w, RuleSpec spec, InternalNames names)
    {
        string t = spec.ElementType;
        RuleSpec pass = ReductionPass(spec);
        string passType = new InternalNames(pass).KernelType;
        System.Collections.Generic.List<ParameterSpec> buffers = Buffers(spec);

        string copy = names.PickName("copy");
        w.Line("/// <summary>This kernel holding the reductions' results (<c>Prepare</c> leaves them 0; the reduction pass computes them).</summary>");
        w.Open($"internal {names.KernelType} {names.WithReductions}({string.Join(", ", spec.Reductions.Select(r => $"{t} {r.Input}"))})");
        w.Line($"{names.KernelType} {copy} = this;");
        foreach (ReductionSpec r in spec.Reductions)
            w.Line($"global::System.Runtime.CompilerServices.Unsafe.AsRef(in {copy}.{names.FieldOf(r.Input)}) = {r.Input};");
        w.Line($"return {copy};");
        w.Close();
        w.Line();

        string reduced = names.PickName("reduced"), update = names.PickName("update");
        string spanParams = string.Join(", ", buffers.Select(b => b.Role == ParameterRole.In
            ? $"global::System.ReadOnlySpan<{t}> {b.Name}" : $"global::System.Span<{t}> {b.Name}"));
        string spans = string.Join(", ", buffers.Select(b => b.Name));
        int maxMask = spec.Reductions.Select((r, i) => r.IsMax ? 1 << i : 0).Sum();
        w.Line("/// <summary>");
        w.Line("/// The rule over one tensor: the reduction pass (its results independent of the thread count), then the update pass");
        w.Line("/// with them. Both passes give a thread at least one block of the reduction's fixed order.");
        w.Line("/// </summary>");
        w.Open($"internal void {names.RunTensor}({spanParams}, int {names.Length}, int {names.Threads})");
        w.Line($"{names.Threads} = (int)global::System.Math.Max(1L, global::System.Math.Min({names.Threads}, ((long){names.Length} + global::Kernels.Training.GradientClipping.BlockLength - 1) / global::Kernels.Training.GradientClipping.BlockLength));");
        w.Line($"global::System.Span<double> {reduced} = stackalloc double[{spec.Reductions.Count}];");
        w.Line($"{ReductionStep}.Run<{t}, {passType}>(new {passType}(this), {names.Length}, {names.Threads}, {maxMask}, {reduced}, {spans});");
        w.Line($"{names.KernelType} {update} = {names.WithReductions}({string.Join(", ", spec.Reductions.Select((_, i) => $"({t}){reduced}[{i}]"))});");
        w.Line($"if ({names.Threads} <= 1)");
        w.Line($"    {update}.{names.Run}({spans});");
        w.Line("else");
        w.Line($"    {CompilerServices}.ParallelStep.Run<{t}, {names.KernelType}>({update}, {names.Length}, {names.Threads}, {ChunkAlignment}, {spans});");
        w.Close();
        w.Line();
    }
}

using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Lowering;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// Writes one rule's CPU file: the public span overload and multi-tensor overload (argument checks through
/// <c>Kernels.CompilerServices.StepChecks</c>, dispatch to one thread or many) and a private kernel struct holding
/// the rule's one <c>Prepare</c> of step-invariant values and the fused loops — Vector512, Vector256 and
/// Vector128 forms, unrolled by four, and a scalar tail that updates each remaining element exactly once.
/// </summary>
internal static partial class RuleEmitter
{
    /// <summary>Vectors per unrolled iteration.</summary>
    public const int Unroll = 4;

    private const string CompilerServices = "global::Kernels.CompilerServices";
    private const string Checks = CompilerServices + ".StepChecks";
    private const string ChunkAlignment = CompilerServices + ".ParallelStep.ChunkAlignment";

    private static readonly string[] s_widths = { "Vector512", "Vector256", "Vector128" };

    public static string Emit(RuleSpec spec)
    {
        var names = new InternalNames(spec);
        return EmitterCommon.WriteFile(spec, w =>
        {
            EmitSpanOverload(w, spec, names);
            w.Line();
            EmitMultiTensorOverload(w, spec, names);
            if (spec.HasErrors)
                return;
            w.Line();
            EmitKernel(w, spec, names);
            if (spec.HasReductions)
            {
                RuleSpec pass = ReductionPass(spec);
                w.Line();
                EmitKernel(w, pass, new InternalNames(pass), updateKernel: names, reductionOutputs: spec.Reductions.Count);
            }
        });
    }

    private static List<ParameterSpec> Buffers(RuleSpec spec) => EmitterCommon.Buffers(spec);

    private static string GeneratedCode => EmitterCommon.GeneratedCode;

    /// <summary>The buffer whose length is the step's: the first one every configuration touches (a guarded one may be empty).</summary>
    private static ParameterSpec LengthSource(RuleSpec spec) => Buffers(spec).FirstOrDefault(b => b.Guard is null) ?? Buffers(spec)[0];

    /// <summary>A guarded buffer's guard as the overloads read it: a field of the prepared kernel.</summary>
    private static string GuardOf(ParameterSpec buffer, InternalNames names) => $"{names.Kernel}.{names.FieldOf(buffer.Guard!)}";

    // ---- Public span overload -----------------------------------------------------------------

    private static void EmitSpanOverload(SourceWriter w, RuleSpec spec, InternalNames names)
    {
        string t = spec.ElementType;
        List<ParameterSpec> buffers = Buffers(spec);
        ParameterSpec first = LengthSource(spec);

        w.Line("/// <summary>");
        w.Line($"/// Runs the update rule <c>{EmitterCommon.Raw(spec.MethodName)}</c> over every element of the spans in one fused,");
        w.Line("/// vectorized pass; bit-identical to calling it element by element. Step-invariant values are computed once.");
        w.Line("/// </summary>");
        EmitParameterDocs(w, spec, "Per-element buffer", " (see the rule); otherwise it may be empty");
        w.Line($"/// <param name=\"{names.Options}\">Threading: by default spans above <see cref=\"global::Kernels.StepOptions.DefaultParallelThreshold\"/> elements are split across all cores.</param>");
        w.Line($"/// <exception cref=\"global::System.ArgumentException\">A span's length differs from <paramref name=\"{EmitterCommon.Raw(first.Name)}\"/>'s, or a written span overlaps another span. Nothing is written.</exception>");
        w.Line(GeneratedCode);

        string parameters = string.Join(", ", spec.Parameters.Select(p => p.Role switch
        {
            ParameterRole.Ref => $"global::System.Span<{t}> {p.Name}",
            ParameterRole.In => $"global::System.ReadOnlySpan<{t}> {p.Name}",
            _ => EmitterCommon.UniformParameter(p),
        }));
        w.Open($"{spec.Accessibility} static void {spec.MethodName}({parameters}, global::Kernels.StepOptions {names.Options} = default)");
        if (spec.HasErrors)
        {
            EmitErrorBody(w, spec);
            return;
        }

        w.Line("// Step-invariant values: the rule's uniform part, computed once per call.");
        w.Line($"var {names.Kernel} = {names.KernelType}.{names.Prepare}({PrepareArguments(spec)});");
        w.Line();
        w.Line("// Argument checks, before any element is written.");
        w.Line($"int {names.Length} = {LengthExpression(spec, names, b => b.Name + ".Length")};");
        foreach (ParameterSpec b in buffers.Where(b => b != first))
            EmitGuarded(w, b, names, $"{Checks}.SameLength({b.Name}.Length, {names.Length}, \"{EmitterCommon.Raw(b.Name)}\", \"{EmitterCommon.Raw(first.Name)}\");");
        w.Line();

        EmitFallback(w, spec, names, tensors: false);
        EmitClearUnused(w, buffers, names);
        if (buffers.Count > 1)
        {
            w.Line("// No written span may share memory with another (an unused one is empty by now).");
            w.Line($"{Checks}.NoOverlap<{t}>({OverlapArguments(spec)}, {string.Join(", ", buffers.Select(b => b.Name))});");
            w.Line();
        }

        string spans = string.Join(", ", buffers.Select(b => b.Name));
        w.Line($"int {names.Threads} = {names.Options}.ThreadCountFor({names.Length}, {ChunkAlignment});");
        if (spec.HasReductions)
        {
            w.Line($"{names.Kernel}.{names.RunTensor}({spans}, {names.Length}, {names.Threads});");
            w.Close();
            return;
        }
        w.Line($"if ({names.Threads} <= 1)");
        w.Line($"    {names.Kernel}.{names.Run}({spans});");
        w.Line("else");
        w.Line($"    {CompilerServices}.ParallelStep.Run<{t}, {names.KernelType}>({names.Kernel}, {names.Length}, {names.Threads}, {ChunkAlignment}, {spans});");
        w.Close();
    }

    /// <summary>The step's length: the first always-touched buffer's, or (every buffer guarded) the first used one's.</summary>
    private static string LengthExpression(RuleSpec spec, InternalNames names, System.Func<ParameterSpec, string> length)
    {
        ParameterSpec first = LengthSource(spec);
        if (first.Guard is null)
            return length(first);
        return string.Join(" : ", Buffers(spec).Select(b => $"{GuardOf(b, names)} ? {length(b)}")) + " : 0";
    }

    /// <summary>A statement that applies only when the buffer is used by this configuration.</summary>
    private static void EmitGuarded(SourceWriter w, ParameterSpec buffer, InternalNames names, string statement)
    {
        if (buffer.Guard is null)
            w.Line(statement);
        else
        {
            w.Line($"if ({GuardOf(buffer, names)})");
            w.Line("    " + statement);
        }
    }

    /// <summary>The names and written-mask arguments of the overlap checks: bit i set for each <c>ref</c> buffer.</summary>
    private static string OverlapArguments(RuleSpec spec)
    {
        List<ParameterSpec> buffers = Buffers(spec);
        int written = 0;
        for (int i = 0; i < buffers.Count; i++)
        {
            if (buffers[i].Role == ParameterRole.Ref)
                written |= 1 << i;
        }
        return $"\"{string.Join(",", buffers.Select(b => EmitterCommon.Raw(b.Name)))}\", 0b{System.Convert.ToString(written, 2)}";
    }

    private static string PrepareArguments(RuleSpec spec) => KernelNaming.PrepareArguments(spec);

    /// <summary>A rule with an error keeps its overloads' signatures, so callers see the KRN error rather than overload-resolution noise.</summary>
    private static void EmitErrorBody(SourceWriter w, RuleSpec spec)
    {
        w.Line($"throw new global::System.InvalidOperationException(\"The update rule '{EmitterCommon.Raw(spec.MethodName)}' has errors (see its KRN diagnostics); no loop was generated.\");");
        w.Close();
    }

    // ---- Multi-tensor overload ----------------------------------------------------------------

    /// <summary>
    /// The same step over many tensors (a model's parameters, one entry per tensor in each list): one
    /// prologue, and one parallel dispatch over the concatenated tensors instead of one per tensor.
    /// </summary>
    private static void EmitMultiTensorOverload(SourceWriter w, RuleSpec spec, InternalNames names)
    {
        string t = spec.ElementType;
        List<ParameterSpec> buffers = Buffers(spec);
        ParameterSpec first = LengthSource(spec);
        string k = names.Tensor;

        w.Line("/// <summary>");
        w.Line($"/// Runs the update rule <c>{EmitterCommon.Raw(spec.MethodName)}</c> over many tensors at once (entry <c>i</c> of every list is tensor <c>i</c>):");
        w.Line("/// step-invariant values are computed once, every tensor is checked before any is written, and the tensors are spread");
        w.Line("/// over the cores as one concatenation (one parallel dispatch). Bit-identical to the span overload per tensor.");
        w.Line("/// </summary>");
        EmitParameterDocs(w, spec, "One buffer per tensor", "; otherwise the list may be empty");
        w.Line($"/// <param name=\"{names.Options}\">Threading: by default the tensors are split across all cores when they hold at least <see cref=\"global::Kernels.StepOptions.DefaultParallelThreshold\"/> elements in all.</param>");
        w.Line($"/// <exception cref=\"global::System.ArgumentException\">A list holds a different number of tensors than <paramref name=\"{EmitterCommon.Raw(first.Name)}\"/>, a tensor's buffers differ in length, or a written buffer overlaps another buffer of its tensor. Nothing is written.</exception>");
        w.Line(GeneratedCode);

        string parameters = string.Join(", ", spec.Parameters.Select(p => p.Role switch
        {
            ParameterRole.Ref => $"global::System.ReadOnlySpan<global::System.Memory<{t}>> {p.Name}",
            ParameterRole.In => $"global::System.ReadOnlySpan<global::System.ReadOnlyMemory<{t}>> {p.Name}",
            _ => EmitterCommon.UniformParameter(p),
        }));
        w.Open($"{spec.Accessibility} static void {spec.MethodName}({parameters}, global::Kernels.StepOptions {names.Options} = default)");
        if (spec.HasErrors)
        {
            EmitErrorBody(w, spec);
            return;
        }
        w.Line("// Step-invariant values: the rule's uniform part, computed once for every tensor.");
        w.Line($"var {names.Kernel} = {names.KernelType}.{names.Prepare}({PrepareArguments(spec)});");
        w.Line();

        w.Line("// Argument checks, before any element of any tensor is written.");
        w.Line($"int {names.Count} = {LengthExpression(spec, names, b => b.Name + ".Length")};");
        foreach (ParameterSpec b in buffers.Where(b => b != first))
            EmitGuarded(w, b, names, $"{Checks}.SameCount({b.Name}.Length, {names.Count}, \"{EmitterCommon.Raw(b.Name)}\", \"{EmitterCommon.Raw(first.Name)}\");");
        w.Open($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
        w.Line($"int {names.Length} = {LengthExpression(spec, names, b => $"{b.Name}[{k}].Length")};");
        foreach (ParameterSpec b in buffers.Where(b => b != first))
            EmitGuarded(w, b, names, $"{Checks}.SameTensorLength({b.Name}[{k}].Length, {names.Length}, {k}, \"{EmitterCommon.Raw(b.Name)}\", \"{EmitterCommon.Raw(first.Name)}\");");
        w.Close();
        w.Line();

        EmitFallback(w, spec, names, tensors: true);
        EmitClearUnused(w, buffers, names);
        if (buffers.Count > 1)
        {
            w.Line("// No written buffer may share memory with another of its tensor (an unused list is empty by now).");
            string tensorSpans = string.Join(", ", buffers.Select(b => b.Guard is null ? $"{b.Name}[{k}].Span" : $"{b.Name}.IsEmpty ? default : {b.Name}[{k}].Span"));
            w.Line($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
            w.Line($"    {Checks}.NoTensorOverlap<{t}>({k}, {OverlapArguments(spec)}, {tensorSpans});");
            w.Line();
        }

        if (spec.HasReductions)
        {
            // Each tensor reduces over itself: tensor by tensor, both passes, each split across threads.
            string tensor = string.Join(", ", buffers.Select(b => b.Guard is null ? $"{b.Name}[{k}].Span" : $"{b.Name}.IsEmpty ? default : {b.Name}[{k}].Span"));
            w.Open($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
            w.Line($"int {names.Length} = {LengthExpression(spec, names, b => $"{b.Name}[{k}].Length")};");
            w.Line($"{names.Kernel}.{names.RunTensor}({tensor}, {names.Length}, {names.Options}.ThreadCountFor({names.Length}, {ChunkAlignment}));");
            w.Close();
            w.Close();
            return;
        }
        w.Line($"long {names.Total} = {LengthExpression(spec, names, b => $"{CompilerServices}.MultiTensorStep.TotalLength({AsReadOnlyList(b)})")};");
        w.Line($"int {names.Threads} = {names.Options}.ThreadCountFor((int)global::System.Math.Min({names.Total}, int.MaxValue), {ChunkAlignment});");
        w.Open($"if ({names.Threads} <= 1)");
        string spans = string.Join(", ", buffers.Select(b => b.Guard is null ? $"{b.Name}[{k}].Span" : $"{b.Name}.IsEmpty ? default : {b.Name}[{k}].Span"));
        w.Line($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
        w.Line($"    {names.Kernel}.{names.Run}({spans});");
        w.Close();
        w.Line("else");
        w.Line($"    {CompilerServices}.MultiTensorStep.Run<{t}, {names.KernelType}>({names.Kernel}, {names.Threads}, {ChunkAlignment}, {string.Join(", ", buffers.Select(AsReadOnlyList))});");
        w.Close();
    }

    private static void EmitParameterDocs(SourceWriter w, RuleSpec spec, string buffer, string unusedNote)
    {
        foreach (ParameterSpec p in spec.Parameters)
        {
            string doc = p.Role switch
            {
                ParameterRole.Ref when p.Guard is not null => $"{buffer}, read and written only when the rule's condition for it holds{unusedNote}.",
                ParameterRole.Ref => $"{buffer}, read and written.",
                ParameterRole.In => $"{buffer}, read only.",
                _ => "Passed to the rule unchanged (uniform for the whole step).",
            };
            w.Line($"/// <param name=\"{EmitterCommon.Raw(p.Name)}\">{doc}</param>");
        }
    }

    /// <summary>A buffer the configuration does not use is replaced by an empty one, so nothing downstream can touch it.</summary>
    private static void EmitClearUnused(SourceWriter w, IEnumerable<ParameterSpec> buffers, InternalNames names)
    {
        List<ParameterSpec> guarded = buffers.Where(b => b.Guard is not null).ToList();
        if (guarded.Count == 0)
            return;
        w.Line("// Buffers this configuration does not use are never touched.");
        foreach (ParameterSpec b in guarded)
            w.Line($"if (!{GuardOf(b, names)}) {b.Name} = default;");
        w.Line();
    }

    /// <summary>
    /// When uniform code the rule reaches only under a per-element condition threw while preparing, the step runs the
    /// rule itself element by element: it throws exactly where calling the rule element by element would, or not at all.
    /// </summary>
    private static void EmitFallback(SourceWriter w, RuleSpec spec, InternalNames names, bool tensors)
    {
        if (spec.FaultName is null)
            return;
        if (spec.HasReductions)
        {
            // The rule itself cannot run element by element (a reduction needs the whole tensor): the fault is thrown.
            w.Line("// The rule's uniform part threw; a rule with reductions cannot run element by element, so it is rethrown.");
            w.Line($"if ({names.Kernel}.{spec.FaultName} is not null)");
            w.Line($"    global::System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw({names.Kernel}.{spec.FaultName});");
            w.Line();
            return;
        }
        string t = spec.ElementType;
        string k = names.Tensor, i = names.I;
        string Element(ParameterSpec b)
        {
            string span = tensors ? $"{b.Name}[{k}].Span" : b.Name;
            // A buffer the configuration does not use may be short or empty: the rule never touches it, a null ref stands in.
            string at = b.Guard is null ? $"{span}[{i}]" : $"({i} < {span}.Length ? ref {span}[{i}] : ref global::System.Runtime.CompilerServices.Unsafe.NullRef<{t}>())";
            if (b.Guard is not null && tensors)
                at = $"({k} < {b.Name}.Length && {i} < {span}.Length ? ref {span}[{i}] : ref global::System.Runtime.CompilerServices.Unsafe.NullRef<{t}>())";
            return (b.Role == ParameterRole.In ? "in " : "ref ") + at;
        }
        string arguments = string.Join(", ", spec.Parameters.Select(p => p.Role == ParameterRole.Uniform
            ? (p.Modifier is "in" or "ref readonly" ? "in " : "") + p.Name
            : Element(p)));
        w.Line("// The rule's uniform part threw: run the rule itself, element by element, so it throws exactly where");
        w.Line("// (and only if) calling it element by element would.");
        w.Open($"if ({names.Kernel}.{spec.FaultName} is not null)");
        // The faulted kernel knows no guard: the step's length is the first buffer that has one.
        bool guessLength = LengthSource(spec).Guard is not null;
        string FirstLength(System.Func<ParameterSpec, string> of) =>
            string.Join(" : ", Buffers(spec).Select(b => $"{of(b)} > 0 ? {of(b)}")) + " : 0";
        if (tensors)
        {
            if (guessLength)
                w.Line($"{names.Count} = {FirstLength(b => b.Name + ".Length")};");
            w.Open($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
            w.Line($"int {names.Length} = {(guessLength ? FirstLength(b => $"({k} < {b.Name}.Length ? {b.Name}[{k}].Length : 0)") : LengthSource(spec).Name + $"[{k}].Length")};");
        }
        else if (guessLength)
            w.Line($"{names.Length} = {FirstLength(b => b.Name + ".Length")};");
        w.Line($"for (int {i} = 0; {i} < {names.Length}; {i}++)");
        w.Line($"    {spec.MethodName}({arguments});");
        if (tensors)
            w.Close();
        w.Line("return;");
        w.Close();
        w.Line();
    }

    private static string AsReadOnlyList(ParameterSpec buffer) =>
        buffer.Role == ParameterRole.Ref ? $"{CompilerServices}.MultiTensorStep.AsReadOnly({buffer.Name})" : buffer.Name;

    // ---- Kernel struct ------------------------------------------------------------------------

    /// <param name="updateKernel">For a rule's reduction pass: the names of its update kernel, whose values it copies.</param>
    /// <param name="reductionOutputs">For a reduction pass: how many of its last buffers are the reductions' outputs.</param>
    private static void EmitKernel(SourceWriter w, RuleSpec spec, InternalNames names, InternalNames? updateKernel = null, int reductionOutputs = 0)
    {
        string t = spec.ElementType;
        List<ParameterSpec> buffers = Buffers(spec);

        w.Line(updateKernel is null
            ? $"/// <summary>The fused loops of the update rule <c>{EmitterCommon.Raw(spec.MethodName)}</c>, carrying one call's step-invariant values.</summary>"
            : $"/// <summary>The reduction pass of <c>{EmitterCommon.Raw(updateKernel.KernelType)}</c>: the statements its reductions need, storing their arguments and nothing else.</summary>");
        w.Line(GeneratedCode);
        w.Line("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]");
        w.Open($"private readonly struct {names.KernelType} : {CompilerServices}.{(updateKernel is null ? "IChunkKernel" : "IReductionKernel")}<{t}>");
        foreach (KernelInputSpec input in spec.KernelInputs)
            w.Line($"internal readonly {input.TypeName} {names.FieldOf(input.Name)};");
        if (spec.FaultName is not null)
        {
            w.Line(spec.HasReductions
                ? "/// <summary>What the rule's uniform part threw while preparing, if it did (the overloads then rethrow it).</summary>"
                : "/// <summary>What the rule's uniform part threw while preparing, if it did (the overloads then run the rule itself, element by element).</summary>");
            w.Line($"internal readonly global::System.Exception? {spec.FaultName};");
        }
        bool gradScale = KernelNaming.HasGradScale(spec);
        if (gradScale)
        {
            w.Line($"/// <summary>The factor every element of <c>{EmitterCommon.Raw(KernelNaming.Gradient(spec)!.Name)}</c> is multiplied by as it is loaded: 1, or an optimizer's clip coefficient.</summary>");
            w.Line($"internal readonly {t} {names.GradScale};");
        }
        w.Line();
        var ctor = spec.KernelInputs.Select(k => (Type: k.TypeName, Name: k.Name, Field: names.FieldOf(k.Name))).ToList();
        if (gradScale)
            ctor.Add((t, names.GradScale, names.GradScale));
        if (spec.FaultName is not null)
            ctor.Add(("global::System.Exception?", spec.FaultName, spec.FaultName));
        if (ctor.Count > 0)
        {
            w.Open($"private {names.KernelType}({string.Join(", ", ctor.Select(c => $"{c.Type} {c.Name}"))})");
            foreach (var c in ctor)
                w.Line($"this.{c.Field} = {c.Name};");
            w.Close();
            w.Line();
        }
        if (spec.FaultName is not null && ctor.Count > 1)
        {
            w.Line(spec.HasReductions
                ? "/// <summary>A kernel that only carries the fault: the overloads rethrow it.</summary>"
                : "/// <summary>A kernel that only carries the fault: the overloads run the rule itself.</summary>");
            w.Open($"private {names.KernelType}(global::System.Exception {spec.FaultName})");
            w.Line($"this.{spec.FaultName} = {spec.FaultName};");
            w.Close();
            w.Line();
        }

        if (updateKernel is not null)
        {
            EmitReductionPassMembers(w, spec, names, updateKernel);
            gradScale = false;
        }
        else
        {
            EmitPrepare(w, spec, names);
            w.Line();
        }
        if (gradScale)
        {
            w.Line($"/// <summary>This kernel with every gradient element multiplied by <paramref name=\"{names.GradScale}\"/> as it is loaded (a fused clip: the gradient's memory is never rewritten).</summary>");
            w.Line($"internal {names.KernelType} {names.WithGradScale}({t} {names.GradScale}) => new {names.KernelType}(this, {names.GradScale});");
            w.Line();
            w.Open($"private {names.KernelType}(in {names.KernelType} prepared, {t} {names.GradScale})");
            w.Line("this = prepared;");
            w.Line($"this.{names.GradScale} = {names.GradScale};");
            w.Close();
            w.Line();
        }

        if (spec.HasReductions)
            EmitReductionMembers(w, spec, names);
        if (updateKernel is null)
        {
            // Chunk entry point for worker threads.
            w.Line($"public void Execute(in {CompilerServices}.PinnedBuffers<{t}> buffers, int start, int length) =>");
            w.Line($"    {names.Run}({string.Join(", ", buffers.Select((b, i) => $"buffers.Slice({i}, start, length)"))});");
        }
        else
        {
            // Segment entry point: the rule's buffers at [start, start + length), the reduction outputs from 0.
            int rule = buffers.Count - reductionOutputs;
            w.Line($"public void ExecuteReduction(in {CompilerServices}.PinnedBuffers<{t}> buffers, int start, int length, in {CompilerServices}.PinnedBuffers<{t}> outputs) =>");
            w.Line($"    {names.Run}({string.Join(", ", buffers.Select((b, i) => i < rule ? $"buffers.Slice({i}, start, length)" : $"outputs.Slice({i - rule}, 0, length)"))});");
        }
        w.Line();

        // Run: turn each step-invariant flag into a generic struct argument (one JIT instantiation per
        // combination used, its branches folded away), then pick the widest accelerated vector and the tail.
        string spanParams = string.Join(", ", buffers.Select(b => b.Role == ParameterRole.In
            ? $"global::System.ReadOnlySpan<{t}> {b.Name}" : $"global::System.Span<{t}> {b.Name}"));
        string spanArgs = string.Join(", ", buffers.Select(b => b.Name));
        Flags flags = new(spec, names);
        for (int level = 0; level < flags.Count; level++)
        {
            string[] known = flags.TypeParameters.Take(level).ToArray();
            string Instantiate(string value) => "<" + string.Join(", ", known.Append(value)) + ">";
            if (level == 0)
                w.Open($"public void {names.Run}({spanParams})");
            else
                w.Open($"private void {names.Run}<{string.Join(", ", known)}>({spanParams}){Flags.Constraints(known)}");
            w.Line($"if (this.{names.FieldOf(flags.Names[level])})");
            w.Line($"    {names.Run}{Instantiate(CompilerServices + ".True")}({spanArgs});");
            w.Line("else");
            w.Line($"    {names.Run}{Instantiate(CompilerServices + ".False")}({spanArgs});");
            w.Close();
            w.Line();
        }
        if (flags.Count == 0)
            w.Open($"public void {names.Run}({spanParams})");
        else
            w.Open($"private void {names.Run}{flags.Generic}({spanParams}){flags.Where}");
        w.Line($"int {names.Length} = {buffers[0].Name}.Length;");
        foreach (ParameterSpec b in buffers)
            w.Line($"ref {t} {names.RefOf(b)} = ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference({b.Name});");
        string refArgs = string.Join(", ", buffers.Select(b => "ref " + names.RefOf(b)));
        // An unused buffer is empty: the first buffer's length is the step's only if it is always used.
        if (buffers[0].Guard is not null)
            w.Line($"{names.Length} = {string.Join(" : ", buffers.Select(b => $"!{b.Name}.IsEmpty ? {b.Name}.Length"))} : 0;");
        w.Line($"int {names.I} = 0;");
        w.Line("if (global::System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)");
        w.Line($"    {names.I} = {names.RunWidth("512")}{flags.Generic}({refArgs}, {names.Length});");
        w.Line("else if (global::System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)");
        w.Line($"    {names.I} = {names.RunWidth("256")}{flags.Generic}({refArgs}, {names.Length});");
        w.Line("else if (global::System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated)");
        w.Line($"    {names.I} = {names.RunWidth("128")}{flags.Generic}({refArgs}, {names.Length});");
        w.Line($"{names.RunScalar}{flags.Generic}({refArgs}, {names.I}, {names.Length});");
        w.Close();

        foreach (string width in s_widths)
        {
            w.Line();
            EmitVectorLoop(w, spec, names, width, flags, storage: null);
            w.Line();
            EmitVectorBlock(w, spec, names, width, flags, storage: null);
        }
        w.Line();
        EmitScalarLoop(w, spec, names, flags, storage: null);
        w.Close();
    }

    /// <summary>The one <c>Prepare</c>: the rule's uniform part, run once per call by every overload (the GPU launchers too).</summary>
    private static void EmitPrepare(SourceWriter w, RuleSpec spec, InternalNames names)
    {
        string parameters = string.Join(", ", spec.Parameters.Where(p => p.Role == ParameterRole.Uniform)
            .Select(p => $"{(p.Modifier.Length > 0 ? p.Modifier + " " : "")}{p.TypeName} {p.Name}"));
        w.Line("/// <summary>Computes one call's step-invariant values: the rule's uniform part, in the rule's order.</summary>");
        w.Open($"internal static {names.KernelType} {names.Prepare}({parameters})");
        if (spec.FaultName is null)
        {
            foreach (string statement in spec.Prologue)
                w.Line(statement);
            w.Line(PrepareResult(spec, names, fault: false));
        }
        else
        {
            // Some of the uniform part may throw: what it throws is kept, and the overloads run the rule element by
            // element, which throws where (and only if) calling it element by element would.
            w.Open("try");
            foreach (string statement in spec.Prologue)
                w.Line(statement);
            w.Line(PrepareResult(spec, names, fault: true));
            w.Close();
            w.Open($"catch (global::System.Exception {spec.FaultName})");
            w.Line($"return new {names.KernelType}({spec.FaultName});");
            w.Close();
        }
        w.Close();
    }

    /// <summary>The <c>return</c> of a successful <c>Prepare</c>: the hoisted values, then (where there is one) a gradient scale of 1.</summary>
    private static string PrepareResult(RuleSpec spec, InternalNames names, bool fault)
    {
        IEnumerable<string> arguments = spec.KernelInputs.Select(k => k.Name);
        if (KernelNaming.HasGradScale(spec))
            arguments = arguments.Append(spec.IsDouble ? "1d" : "1f");
        if (fault)
            arguments = arguments.Append("null");
        List<string> list = arguments.ToList();
        return list.Count == 0 ? "return default;" : $"return new {names.KernelType}({string.Join(", ", list)});";
    }

    /// <summary>Hoisted bools the body uses as per-element masks (e.g. <c>amsgrad &amp;&amp; grad &gt; 0</c>); only those get a broadcast mask.</summary>
    private static HashSet<string> UniformMasks(RuleSpec spec) =>
        new(Ir.Expressions(spec.Body).OfType<UniformExpr>().Where(u => u.Kind == ValueKind.Mask).Select(u => u.Name));

    /// <summary>
    /// Whether the rule converts between float and double per element. Such a rule's vector block
    /// holds as many elements as one vector of doubles, and float buffers are loaded half a vector at a time.
    /// </summary>
    private static bool IsMixed(RuleSpec spec) =>
        Ir.Expressions(spec.Body).Any(e => e.Kind.IsOther())
        || Ir.Statements(spec.Body).Any(s => s is AssignStmt { Kind: ValueKind.Other or ValueKind.OtherMask } or DeclareStmt { Kind: ValueKind.Other or ValueKind.OtherMask });

    /// <summary>The loops' buffer parameters: refs to the first elements (of the rule's type, or of each buffer's storage type).</summary>
    private static string RefParams(RuleSpec spec, InternalNames names, StorageKernel? storage = null) =>
        string.Join(", ", Buffers(spec).Select(b => $"ref {storage?.TypeOf(b) ?? spec.ElementType} {names.RefOf(b)}"));

    private static void EmitVectorLoop(SourceWriter w, RuleSpec spec, InternalNames names, string width, Flags flags, StorageKernel? storage)
    {
        string prepared = storage?.Prepared ?? "this";
        string t = spec.ElementType;
        string vec = $"global::System.Runtime.Intrinsics.{width}";
        bool mixed = IsMixed(spec);
        string count = $"{vec}<{(mixed ? "double" : t)}>.Count";
        string bits = width.Substring("Vector".Length);

        w.Line(mixed
            ? $"/// <summary>Blocks of <c>{width}&lt;double&gt;.Count</c> elements (the rule mixes float and double), {Unroll} per iteration; returns the index of the first element left for the tail.</summary>"
            : $"/// <summary>Whole {width} vectors, {Unroll} per iteration; returns the index of the first element left for the tail.</summary>");
        HashSet<string> masks = UniformMasks(spec);
        w.Open($"private int {names.RunWidth(bits)}{flags.Generic}({RefParams(spec, names, storage)}, int {names.Length}{storage?.ExtraParameter}){flags.Where}");
        if (spec.KernelInputs.Count > 0)
        {
            w.Line("// Step-invariant values, broadcast once.");
            foreach (KernelInputSpec input in spec.KernelInputs)
            {
                if (input.Type == ScalarType.Bool)
                {
                    if (!flags.Contains(input.Name))
                        w.Line($"bool {input.Name} = {prepared}.{names.FieldOf(input.Name)};");
                    if (masks.Contains(input.Name))
                        w.Line($"var {names.MaskOf(input.Name)} = {prepared}.{names.FieldOf(input.Name)} ? {vec}<{t}>.AllBitsSet : {vec}<{t}>.Zero;");
                }
                else
                {
                    w.Line($"var {input.Name} = {vec}.Create({prepared}.{names.FieldOf(input.Name)});");
                }
            }
        }
        if (KernelNaming.HasGradScale(spec))
            w.Line($"var {names.GradScale} = {vec}.Create({prepared}.{names.GradScale});");
        string refArgs = string.Join(", ", Buffers(spec).Select(b => "ref " + names.RefOf(b)));
        string inputArgs = storage?.ExtraArgument + string.Join("", BlockInputs(spec, flags, masks, names).Select(i => ", " + i.Name));
        string block = names.BlockWidth(bits);
        w.Line($"int {names.I} = 0;");
        w.Open($"for (; {names.I} <= {names.Length} - {Unroll} * {count}; {names.I} += {Unroll} * {count})");
        for (int u = 0; u < Unroll; u++)
        {
            string offset = u == 0 ? $"(nuint){names.I}" : $"(nuint)({names.I} + {u} * {count})";
            w.Line($"{block}{flags.Generic}({refArgs}, {offset}{inputArgs});");
        }
        w.Close();
        w.Line($"for (; {names.I} <= {names.Length} - {count}; {names.I} += {count})");
        w.Line($"    {block}{flags.Generic}({refArgs}, (nuint){names.I}{inputArgs});");
        w.Line($"return {names.I};");
        w.Close();
    }

    private static void EmitVectorBlock(SourceWriter w, RuleSpec spec, InternalNames names, string width, Flags flags, StorageKernel? storage)
    {
        string t = spec.ElementType;
        string vec = $"global::System.Runtime.Intrinsics.{width}";
        string bits = width.Substring("Vector".Length);
        HashSet<string> masks = UniformMasks(spec);
        string inputParams = storage?.ExtraParameter + string.Join("", BlockInputs(spec, flags, masks, names).Select(i => $", {(i.Type == "bool" ? "bool" : $"{vec}<{i.Type}>")} {i.Name}"));
        System.Func<string, string> uniformName = n => masks.Contains(n) ? names.MaskOf(n) : n;

        w.Line($"/// <summary>The rule on one {width}: load, compute, store.</summary>");
        w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
        w.Open($"private static void {names.BlockWidth(bits)}{flags.Generic}({RefParams(spec, names, storage)}, nuint {names.At}{inputParams}){flags.Where}");
        if (IsMixed(spec) && t == "float")
        {
            // Half a vector of floats per block, in the lower half (the upper half is zero and never stored).
            string half = HalfWidth(width);
            string halfBits = half.Substring("Vector".Length);
            EmitLoads(w, spec, names, b => storage is null
                ? $"{vec}.Create(global::System.Runtime.Intrinsics.{half}.LoadUnsafe(ref {names.RefOf(b)}, {names.At}), global::System.Runtime.Intrinsics.{half}<float>.Zero)"
                : $"{vec}.Create({StorageHelpers}.Load{halfBits}(ref {names.RefOf(b)}, {names.At}), global::System.Runtime.Intrinsics.{half}<float>.Zero)", $"{vec}<{t}>.Zero", "var", flags);
            // Only the lower half holds elements: the padding lanes must not make a checked function throw.
            string lanes = $"{vec}.Create(global::System.Runtime.Intrinsics.{half}<float>.AllBitsSet, global::System.Runtime.Intrinsics.{half}<float>.Zero)";
            new BodyEmitter(w, width, t, names.Mask, flags.Condition, uniformName, ThrowsAnywhere(spec) ? lanes : null).Emit(spec.Body);
            if (storage is null)
                EmitStores(w, spec, b => $"global::System.Runtime.Intrinsics.{half}.StoreUnsafe({vec}.GetLower({b.Name}), ref {names.RefOf(b)}, {names.At});", flags);
            else
                EmitStorageStores(w, spec, names, storage, b => $"{vec}.GetLower({b.Name})", names.At, flags);
        }
        else if (storage is null)
        {
            EmitLoads(w, spec, names, b => $"{vec}.LoadUnsafe(ref {names.RefOf(b)}, {names.At})", $"{vec}<{t}>.Zero", "var", flags);
            new BodyEmitter(w, width, t, names.Mask, flags.Condition, uniformName).Emit(spec.Body);
            EmitStores(w, spec, b => $"{vec}.StoreUnsafe({b.Name}, ref {names.RefOf(b)}, {names.At});", flags);
        }
        else
        {
            EmitLoads(w, spec, names, b => $"{StorageHelpers}.Load{bits}(ref {names.RefOf(b)}, {names.At})", $"{vec}<{t}>.Zero", "var", flags);
            new BodyEmitter(w, width, t, names.Mask, flags.Condition, uniformName).Emit(spec.Body);
            EmitStorageStores(w, spec, names, storage, b => b.Name, names.At, flags);
        }
        w.Close();
    }

    private static bool ThrowsAnywhere(RuleSpec spec) =>
        Ir.Expressions(spec.Body).Any(e => e is CallExpr c && KnownFunctions.Of(c.Function).Throws is not null);

    private static string HalfWidth(string width) => width switch
    {
        "Vector512" => "Vector256",
        "Vector256" => "Vector128",
        _ => "Vector64",
    };

    private static void EmitScalarLoop(SourceWriter w, RuleSpec spec, InternalNames names, Flags flags, StorageKernel? storage)
    {
        string t = spec.ElementType;
        string prepared = storage?.Prepared ?? "this";
        w.Line("/// <summary>Elements left after the last whole vector (or all of them without SIMD), one at a time.</summary>");
        w.Open($"private void {names.RunScalar}{flags.Generic}({RefParams(spec, names, storage)}, int {names.I}, int {names.Length}{storage?.ExtraParameter}){flags.Where}");
        foreach (KernelInputSpec input in spec.KernelInputs.Where(k => !flags.Contains(k.Name)))
            w.Line($"{input.TypeName} {input.Name} = {prepared}.{names.FieldOf(input.Name)};");
        if (KernelNaming.HasGradScale(spec))
            w.Line($"{t} {names.GradScale} = {prepared}.{names.GradScale};");
        w.Open($"for (; {names.I} < {names.Length}; {names.I}++)");
        if (storage is null)
            EmitLoads(w, spec, names, b => $"global::System.Runtime.CompilerServices.Unsafe.Add(ref {names.RefOf(b)}, {names.I})", "0", t, flags);
        else
            EmitLoads(w, spec, names, b => $"{StorageHelpers}.Load(ref {names.RefOf(b)}, {names.I})", "0", t, flags);
        new BodyEmitter(w, null, t, names.Mask, flags.Condition).Emit(spec.Body);
        if (storage is null)
            EmitStores(w, spec, b => $"global::System.Runtime.CompilerServices.Unsafe.Add(ref {names.RefOf(b)}, {names.I}) = {b.Name};", flags);
        else
            EmitStorageStores(w, spec, names, storage, b => b.Name, names.I, flags);
        w.Close();
        w.Close();
    }

    private static void EmitLoads(SourceWriter w, RuleSpec spec, InternalNames names, System.Func<ParameterSpec, string> load, string zero, string type, Flags flags)
    {
        foreach (ParameterSpec b in Buffers(spec))
        {
            if (!b.IsLoaded)
                continue;
            string loaded = b == KernelNaming.Gradient(spec) ? $"{load(b)} * {names.GradScale}" : load(b);
            string value = b.Guard is null ? loaded : $"{flags.Condition(b.Guard)} ? {loaded} : {zero}";
            w.Line($"{type} {b.Name} = {value};");
        }
    }

    private static void EmitStores(SourceWriter w, RuleSpec spec, System.Func<ParameterSpec, string> store, Flags flags)
    {
        foreach (ParameterSpec b in Buffers(spec).Where(b => b.Role == ParameterRole.Ref && b.IsWritten))
            w.Line(b.Guard is null ? store(b) : $"if ({flags.Condition(b.Guard)}) {store(b)}");
    }

    /// <summary>What a vector block takes besides the buffers: broadcasts, masks, and the bools that are not flags.</summary>
    private static IEnumerable<(string Name, string Type)> BlockInputs(RuleSpec spec, Flags flags, HashSet<string> masks, InternalNames names)
    {
        if (KernelNaming.HasGradScale(spec))
            yield return (names.GradScale, spec.ElementType);
        foreach (KernelInputSpec k in spec.KernelInputs)
        {
            if (k.Type != ScalarType.Bool)
                yield return (k.Name, k.TypeName);
            else
            {
                if (!flags.Contains(k.Name))
                    yield return (k.Name, "bool");
                if (masks.Contains(k.Name))
                    yield return (names.MaskOf(k.Name), spec.ElementType);
            }
        }
    }

    /// <summary>
    /// The hoisted bools that decide branches (uniform <c>if</c>s, uniform <c>?:</c>, buffer guards), each
    /// passed to the loops as a generic <c>Kernels.CompilerServices.IFlag</c> struct argument: the JIT compiles one
    /// loop per combination actually used, with those branches folded away (it does not unswitch loops itself).
    /// </summary>
    private sealed class Flags
    {
        private readonly Dictionary<string, string> _typeParameters = new();

        /// <param name="extra">A type parameter after the flags' (the storage kernel's stochastic-rounding flag), or null.</param>
        public Flags(RuleSpec spec, InternalNames names, string? extra = null)
        {
            var used = new HashSet<string>(Ir.Statements(spec.Body).OfType<UniformIfStmt>().Select(u => u.Condition)
                .Concat(Ir.Expressions(spec.Body).OfType<UniformSelectExpr>().Select(u => u.Condition))
                .Concat(Buffers(spec).Where(b => b.Guard is not null).Select(b => b.Guard!)));
            Names = spec.KernelInputs.Where(k => k.Type == ScalarType.Bool && used.Contains(k.Name)).Select(k => k.Name).ToList();
            TypeParameters = Names.Select(n => names.TypeParameterFor(n)).ToList();
            for (int i = 0; i < Names.Count; i++)
                _typeParameters[Names[i]] = TypeParameters[i];
            if (extra is not null)
                TypeParameters.Add(extra);
        }

        public List<string> Names { get; }

        public List<string> TypeParameters { get; }

        public int Count => Names.Count;

        public bool Contains(string name) => _typeParameters.ContainsKey(name);

        /// <summary><c>&lt;TA, TB&gt;</c>, or nothing without flags.</summary>
        public string Generic => TypeParameters.Count == 0 ? "" : "<" + string.Join(", ", TypeParameters) + ">";

        public string Where => Constraints(TypeParameters);

        public static string Constraints(IEnumerable<string> typeParameters) =>
            string.Concat(typeParameters.Select(p => $" where {p} : struct, {CompilerServices}.IFlag"));

        /// <summary>A flag reads as its type argument's constant; any other bool as itself.</summary>
        public string Condition(string name) => _typeParameters.TryGetValue(name, out string? type) ? type + ".Value" : name;
    }

    /// <summary>Names the CPU code declares, chosen so they never collide with the rule's own names or the type's members.</summary>
    internal sealed class InternalNames : KernelNaming
    {
        private readonly Dictionary<string, string> _refs = new();
        private readonly Dictionary<string, string> _masks = new();
        private readonly Dictionary<string, string> _uniformMasks = new();
        private readonly Dictionary<string, string> _widths = new();

        public InternalNames(RuleSpec spec) : base(spec)
        {
            Options = Pick("options");
            Length = Pick("length");
            Kernel = Pick("kernel");
            Threads = Pick("threads");
            I = Pick("i");
            At = Pick("at");
            Count = Pick("count");
            Tensor = Pick("tensor");
            Total = Pick("total");
            Run = Pick("Run");
            RunScalar = Pick("RunScalar");
        }

        public string Count { get; }
        public string Tensor { get; }
        public string Total { get; }
        public string Options { get; }
        public string Length { get; }
        public string Kernel { get; }
        public string Threads { get; }
        public string I { get; }
        public string At { get; }
        public string Run { get; }
        public string RunScalar { get; }

        /// <summary>A further name of the emitted code (the storage kernel's), distinct from every other.</summary>
        public string PickName(string name) => Pick(name);

        public string RunWidth(string bits) => Memo(_widths, "Run" + bits);

        public string BlockWidth(string bits) => Memo(_widths, "Block" + bits);

        /// <summary>A per-element mask of the body (<c>maskThen1</c>), the same name in every block.</summary>
        public string Mask(string baseName) => Memo(_masks, baseName);

        /// <summary>The broadcast mask of a hoisted bool used per element.</summary>
        public string MaskOf(string input) => Memo(_uniformMasks, EmitterCommon.Raw(input) + "Mask");

        public string TypeParameterFor(string flag) => Pick("T" + char.ToUpperInvariant(EmitterCommon.Raw(flag)[0]) + EmitterCommon.Raw(flag).Substring(1));

        public string RefOf(ParameterSpec buffer) => Memo(_refs, EmitterCommon.Raw(buffer.Name) + "Ref");

        private string Memo(Dictionary<string, string> cache, string baseName)
        {
            if (!cache.TryGetValue(baseName, out string? name))
                cache[baseName] = name = Pick(baseName);
            return name;
        }
    }
}

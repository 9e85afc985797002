using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// The storage overloads of a float rule (file <c>….Storage.g.cs</c>): the same step over buffers held as float,
/// bfloat16 or fp16, chosen per call by three type arguments — the parameter's storage (<c>TParam</c>: the first
/// <c>ref</c> buffer), the read-only buffers' (<c>TGrad</c>: every <c>in</c> buffer) and the other <c>ref</c> buffers'
/// (<c>TState</c>). A generic storage kernel struct beside the float kernel runs the same lowered body in float between
/// widening loads and narrowing stores (<c>Kernels.CompilerServices.Storage</c>); its loops are the float kernel's, emitted
/// by the same methods. An all-float call forwards to the float overload, whose code is unchanged.
/// </summary>
internal static partial class RuleEmitter
{
    private const string StorageHelpers = CompilerServices + ".Storage";
    private const string StochasticRoundingType = "global::Kernels.Precision.StochasticRounding";
    private const string StochasticBitsType = "global::Kernels.CompilerServices.StochasticBits";
    private const string BFloat16Type = "global::Kernels.Precision.BFloat16";
    private const string MemoryMarshal = "global::System.Runtime.InteropServices.MemoryMarshal";

    /// <summary>Whether the rule gets storage overloads: a float rule (bf16/fp16 storage of a double rule is not offered).</summary>
    /// <remarks>Not yet for a rule with reductions (its two passes have no storage form: a documented gap).</remarks>
    public static bool HasStorageOverloads(RuleSpec spec) => spec.Element == ScalarType.Float32 && !spec.HasReductions;

    public static string StorageHintName(RuleSpec spec) => spec.HintName.Substring(0, spec.HintName.Length - ".g.cs".Length) + ".Storage.g.cs";

    public static string EmitStorage(RuleSpec spec)
    {
        var names = new InternalNames(spec);
        var storage = new StorageKernel(spec, names);
        return EmitterCommon.WriteFile(spec, w =>
        {
            EmitStorageSpanOverload(w, spec, names, storage);
            w.Line();
            EmitStorageMultiTensorOverload(w, spec, names, storage);
            if (spec.HasErrors)
                return;
            w.Line();
            EmitStorageKernel(w, spec, names, storage);
        });
    }

    // ---- Public overloads ---------------------------------------------------------------------

    private static void EmitStorageDocs(SourceWriter w, RuleSpec spec, InternalNames names, StorageKernel storage, bool tensors)
    {
        string rule = EmitterCommon.Raw(spec.MethodName);
        string param = EmitterCommon.Raw(storage.Parameter.Name);
        w.Line("/// <summary>");
        if (tensors)
        {
            w.Line($"/// Runs the update rule <c>{rule}</c> over many tensors at once, as the span overload with storage types does (entry <c>i</c> of");
            w.Line("/// every list is tensor <c>i</c>): step-invariant values are computed once, every tensor is checked before any is written, and the");
            w.Line("/// tensors are spread over the cores as one concatenation. Bit-identical to the storage span overload per tensor, tensor");
            w.Line("/// <c>k</c> getting <c>Rounding.Skip(offset of tensor k in the concatenation)</c>.");
        }
        else
        {
            w.Line($"/// Runs the update rule <c>{rule}</c> over buffers stored as float, bfloat16 (<see cref=\"{BFloat16Type}\"/>) or fp16");
            w.Line("/// (<see cref=\"global::System.Half\"/>) in one fused, vectorized pass: each element is widened to float as it is loaded, updated");
            w.Line("/// by the rule in float, and rounded back to its buffer's type as it is stored (to nearest, ties to even; a bfloat16");
            w.Line($"/// <paramref name=\"{param}\"/> stochastically when <see cref=\"global::Kernels.StepOptions.Rounding\"/> asks for it). Bit-identical to calling the rule");
            w.Line("/// element by element on the widened values and rounding every buffer it assigns. With every buffer float this is the float overload.");
        }
        w.Line("/// </summary>");
        foreach (StorageGroup group in storage.Groups)
            w.Line($"/// <typeparam name=\"{group.TypeParameter}\">How {group.Describe()} stored: <c>float</c>, <see cref=\"{BFloat16Type}\"/> or <see cref=\"global::System.Half\"/>.</typeparam>");
        EmitParameterDocs(w, spec, tensors ? "One buffer per tensor" : "Per-element buffer", tensors ? "; otherwise the list may be empty" : " (see the rule); otherwise it may be empty");
        string threading = tensors
            ? "by default the tensors are split across all cores when they hold at least <see cref=\"global::Kernels.StepOptions.DefaultParallelThreshold\"/> elements in all"
            : "by default spans above <see cref=\"global::Kernels.StepOptions.DefaultParallelThreshold\"/> elements are split across all cores";
        w.Line($"/// <param name=\"{names.Options}\">Threading: {threading}. <see cref=\"global::Kernels.StepOptions.Rounding\"/>: stochastic rounding of <paramref name=\"{param}\"/> where it is stored as bfloat16, keyed by seed, step and element index{(tensors ? " (the index in the concatenation of the tensors)" : "")}, so the bits do not depend on the thread count; default: round to nearest.</param>");
        w.Line(tensors
            ? $"/// <exception cref=\"global::System.ArgumentException\">A list holds a different number of tensors than <paramref name=\"{EmitterCommon.Raw(LengthSource(spec).Name)}\"/>, a tensor's buffers differ in length, or a written buffer overlaps another buffer of its tensor. Nothing is written.</exception>"
            : $"/// <exception cref=\"global::System.ArgumentException\">A span's length differs from <paramref name=\"{EmitterCommon.Raw(LengthSource(spec).Name)}\"/>'s, or a written span overlaps another span. Nothing is written.</exception>");
        w.Line($"/// <exception cref=\"global::System.NotSupportedException\">A type argument is not float, <see cref=\"{BFloat16Type}\"/> or <see cref=\"global::System.Half\"/>, or stochastic rounding is asked for a <see cref=\"global::System.Half\"/> <paramref name=\"{param}\"/>. Nothing is written.</exception>");
        w.Line(GeneratedCode);
    }

    private static void EmitStorageSpanOverload(SourceWriter w, RuleSpec spec, InternalNames names, StorageKernel storage)
    {
        List<ParameterSpec> buffers = Buffers(spec);
        ParameterSpec first = LengthSource(spec);
        EmitStorageDocs(w, spec, names, storage, tensors: false);

        string parameters = string.Join(", ", spec.Parameters.Select(p => p.Role switch
        {
            ParameterRole.Ref => $"global::System.Span<{storage.TypeOf(p)}> {p.Name}",
            ParameterRole.In => $"global::System.ReadOnlySpan<{storage.TypeOf(p)}> {p.Name}",
            _ => EmitterCommon.UniformParameter(p),
        }));
        w.Line($"{spec.Accessibility} static void {spec.MethodName}<{storage.TypeParameterList}>({parameters}, global::Kernels.StepOptions {names.Options} = default)");
        w.Open("    " + storage.Constraints);
        if (spec.HasErrors)
        {
            EmitErrorBody(w, spec);
            return;
        }

        w.Line("// Every buffer float: the float overload (the JIT folds this test in each instantiation).");
        w.Open($"if ({storage.AllFloat})");
        w.Line($"{spec.MethodName}({ForwardArguments(spec, b => $"{CompilerServices}.StorageStep.AsSingles({b.Name})", names)});");
        w.Line("return;");
        w.Close();
        EmitStorageTypeChecks(w, storage);
        w.Line();

        w.Line("// Step-invariant values: the rule's uniform part, computed once per call.");
        w.Line($"var {names.Kernel} = {names.KernelType}.{names.Prepare}({PrepareArguments(spec)});");
        w.Line();
        w.Line("// Argument checks, before any element is written.");
        w.Line($"int {names.Length} = {LengthExpression(spec, names, b => b.Name + ".Length")};");
        foreach (ParameterSpec b in buffers.Where(b => b != first))
            EmitGuarded(w, b, names, $"{Checks}.SameLength({b.Name}.Length, {names.Length}, \"{EmitterCommon.Raw(b.Name)}\", \"{EmitterCommon.Raw(first.Name)}\");");
        w.Line();

        EmitStorageFallback(w, spec, names, storage, tensors: false);
        EmitClearUnused(w, buffers, names);
        if (buffers.Count > 1)
        {
            w.Line("// No written span may share memory with another (an unused one is empty by now); compared as bytes.");
            w.Line($"{Checks}.NoOverlap<byte>({OverlapArguments(spec)}, {string.Join(", ", buffers.Select(b => $"{MemoryMarshal}.AsBytes({b.Name})"))});");
            w.Line();
        }

        w.Line($"var {storage.Instance} = new {storage.KernelType}<{storage.TypeParameterList}>({names.Kernel}, {names.Options}.Rounding);");
        w.Line($"int {names.Threads} = {names.Options}.ThreadCountFor({names.Length}, {ChunkAlignment});");
        w.Line($"if ({names.Threads} <= 1)");
        w.Line($"    {storage.Instance}.{names.Run}({string.Join(", ", buffers.Select(b => b.Name))}, 0);");
        w.Line("else");
        w.Line($"    {CompilerServices}.StorageStep.Run({storage.Instance}, {names.Length}, {names.Threads}, {ChunkAlignment}, {string.Join(", ", buffers.Select(b => $"{MemoryMarshal}.AsBytes({b.Name})"))});");
        w.Close();
    }

    private static void EmitStorageMultiTensorOverload(SourceWriter w, RuleSpec spec, InternalNames names, StorageKernel storage)
    {
        List<ParameterSpec> buffers = Buffers(spec);
        ParameterSpec first = LengthSource(spec);
        string k = names.Tensor;
        EmitStorageDocs(w, spec, names, storage, tensors: true);

        string parameters = string.Join(", ", spec.Parameters.Select(p => p.Role switch
        {
            ParameterRole.Ref => $"global::System.ReadOnlySpan<global::System.Memory<{storage.TypeOf(p)}>> {p.Name}",
            ParameterRole.In => $"global::System.ReadOnlySpan<global::System.ReadOnlyMemory<{storage.TypeOf(p)}>> {p.Name}",
            _ => EmitterCommon.UniformParameter(p),
        }));
        w.Line($"{spec.Accessibility} static void {spec.MethodName}<{storage.TypeParameterList}>({parameters}, global::Kernels.StepOptions {names.Options} = default)");
        w.Open("    " + storage.Constraints);
        if (spec.HasErrors)
        {
            EmitErrorBody(w, spec);
            return;
        }

        w.Line("// Every buffer float: the float overload (the JIT folds this test in each instantiation).");
        w.Open($"if ({storage.AllFloat})");
        w.Line($"{spec.MethodName}({ForwardArguments(spec, b => $"{CompilerServices}.StorageStep.AsSingleTensors({b.Name})", names)});");
        w.Line("return;");
        w.Close();
        EmitStorageTypeChecks(w, storage);
        w.Line();

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

        EmitStorageFallback(w, spec, names, storage, tensors: true);
        EmitClearUnused(w, buffers, names);
        string TensorSpan(ParameterSpec b) => b.Guard is null ? $"{b.Name}[{k}].Span" : $"{b.Name}.IsEmpty ? default : {b.Name}[{k}].Span";
        if (buffers.Count > 1)
        {
            w.Line("// No written buffer may share memory with another of its tensor (an unused list is empty by now); compared as bytes.");
            w.Line($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
            w.Line($"    {Checks}.NoTensorOverlap<byte>({k}, {OverlapArguments(spec)}, {string.Join(", ", buffers.Select(b => $"{MemoryMarshal}.AsBytes({(b.Guard is null ? TensorSpan(b) : $"({TensorSpan(b)})")})"))});");
            w.Line();
        }

        w.Line($"var {storage.Instance} = new {storage.KernelType}<{storage.TypeParameterList}>({names.Kernel}, {names.Options}.Rounding);");
        w.Line($"long {names.Total} = {LengthExpression(spec, names, b => $"{CompilerServices}.MultiTensorStep.TotalLength({AsReadOnlyList(b)})")};");
        w.Line($"int {names.Threads} = {names.Options}.ThreadCountFor((int)global::System.Math.Min({names.Total}, int.MaxValue), {ChunkAlignment});");
        w.Open($"if ({names.Threads} <= 1)");
        w.Line("// Tensor k's elements are elements offset(k)… of the step: the stochastic rounding's index runs on across tensors.");
        w.Line($"long {storage.Position} = 0;");
        w.Open($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
        w.Line($"{storage.Instance}.{names.Run}({string.Join(", ", buffers.Select(TensorSpan))}, {storage.Position});");
        w.Line($"{storage.Position} += {LengthExpression(spec, names, b => $"{b.Name}[{k}].Length")};");
        w.Close();
        w.Close();
        w.Open("else");
        w.Line($"using var {storage.Pinned} = new {CompilerServices}.PinnedTensors({names.Count});");
        foreach (ParameterSpec b in buffers)
            w.Line($"{storage.Pinned}.Add({AsReadOnlyList(b)});");
        w.Line($"{CompilerServices}.StorageStep.Run({storage.Instance}, {names.Threads}, {ChunkAlignment}, {storage.Pinned});");
        w.Close();
        w.Close();
    }

    /// <summary>The arguments of the forward to the float overload: the buffers as float, the uniforms, the options.</summary>
    private static string ForwardArguments(RuleSpec spec, System.Func<ParameterSpec, string> buffer, InternalNames names) =>
        string.Join(", ", spec.Parameters.Select(p => p.Role == ParameterRole.Uniform
            ? (p.Modifier is "in" or "ref readonly" ? "in " : "") + p.Name
            : buffer(p)).Append(names.Options));

    private static void EmitStorageTypeChecks(SourceWriter w, StorageKernel storage)
    {
        w.Line("// Storage types the kernels can widen and narrow (tests the JIT folds away for them).");
        foreach (StorageGroup group in storage.Groups)
            w.Line($"{Checks}.StorageType<{group.TypeParameter}>(\"{EmitterCommon.Raw(group.Buffers[0].Name)}\");");
        w.Line($"{Checks}.StochasticRounding<{storage.Groups[0].TypeParameter}>({storage.Options}.Rounding, \"{EmitterCommon.Raw(storage.Parameter.Name)}\");");
    }

    /// <summary>
    /// The storage form of the fallback (see <c>EmitFallback</c>): the rule itself, element by element, on float copies of
    /// each element, each buffer the rule assigns rounded back after its call — the storage overload's own definition.
    /// </summary>
    private static void EmitStorageFallback(SourceWriter w, RuleSpec spec, InternalNames names, StorageKernel storage, bool tensors)
    {
        if (spec.FaultName is null)
            return;
        List<ParameterSpec> buffers = Buffers(spec);
        string k = names.Tensor, i = names.I;
        string Span(ParameterSpec b) => tensors ? $"{b.Name}[{k}].Span" : b.Name;
        string First(ParameterSpec b) => $"ref {MemoryMarshal}.GetReference({Span(b)})";
        // A buffer the configuration does not use may be short or empty: the rule never touches it, it is neither read nor written.
        string? Present(ParameterSpec b) => b.Guard is null ? null : tensors ? $"{k} < {b.Name}.Length && {i} < {Span(b)}.Length" : $"{i} < {Span(b)}.Length";
        string arguments = string.Join(", ", spec.Parameters.Select(p => p.Role switch
        {
            ParameterRole.Uniform => (p.Modifier is "in" or "ref readonly" ? "in " : "") + p.Name,
            ParameterRole.In => "in " + storage.ValueOf(p),
            _ => "ref " + storage.ValueOf(p),
        }));
        w.Line("// The rule's uniform part threw: run the rule itself, element by element, so it throws exactly where");
        w.Line("// (and only if) calling it element by element would.");
        w.Open($"if ({names.Kernel}.{spec.FaultName} is not null)");
        bool guessLength = LengthSource(spec).Guard is not null;
        string FirstLength(System.Func<ParameterSpec, string> of) =>
            string.Join(" : ", buffers.Select(b => $"{of(b)} > 0 ? {of(b)}")) + " : 0";
        string stochastic = $"typeof({storage.Groups[0].TypeParameter}) == typeof({BFloat16Type}) && {names.Options}.Rounding.IsEnabled";
        if (tensors)
        {
            if (guessLength)
                w.Line($"{names.Count} = {FirstLength(b => b.Name + ".Length")};");
            w.Line($"long {storage.Position} = 0;");
            w.Open($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
            w.Line($"int {names.Length} = {(guessLength ? FirstLength(b => $"({k} < {b.Name}.Length ? {b.Name}[{k}].Length : 0)") : LengthSource(spec).Name + $"[{k}].Length")};");
        }
        else if (guessLength)
            w.Line($"{names.Length} = {FirstLength(b => b.Name + ".Length")};");
        w.Open($"for (int {i} = 0; {i} < {names.Length}; {i}++)");
        foreach (ParameterSpec b in buffers)
        {
            string load = $"{StorageHelpers}.Load({First(b)}, {i})";
            w.Line($"float {storage.ValueOf(b)} = {(Present(b) is { } present ? $"{present} ? {load} : 0f" : load)};");
        }
        w.Line($"{spec.MethodName}({arguments});");
        // A buffer under a guard is written back only if the rule changed it: the faulted kernel knows no guard, and a
        // buffer this configuration does not use must not be touched.
        string? Changed(ParameterSpec b) => Present(b) is { } present
            ? $"{present} && global::System.BitConverter.SingleToUInt32Bits({storage.ValueOf(b)}) != global::System.BitConverter.SingleToUInt32Bits({StorageHelpers}.Load({First(b)}, {i}))"
            : null;
        foreach (ParameterSpec b in buffers.Where(b => b.Role == ParameterRole.Ref && b.IsWritten))
        {
            string store = $"{StorageHelpers}.Store({storage.ValueOf(b)}, {First(b)}, {i});";
            if (b == storage.Parameter)
            {
                string rounding = tensors ? $"{names.Options}.Rounding.Skip((ulong){storage.Position})" : $"{names.Options}.Rounding";
                store = $"if ({stochastic}) {StorageHelpers}.StoreStochastic({storage.ValueOf(b)}, {First(b)}, {i}, {rounding}); else {store}";
                if (Changed(b) is { } guarded)
                {
                    w.Open($"if ({guarded})");
                    w.Line(store);
                    w.Close();
                    continue;
                }
            }
            w.Line(Changed(b) is { } changed ? $"if ({changed}) {store}" : store);
        }
        w.Close();
        if (tensors)
        {
            w.Line($"{storage.Position} += {names.Length};");
            w.Close();
        }
        w.Line("return;");
        w.Close();
        w.Line();
    }

    // ---- Storage kernel struct ----------------------------------------------------------------

    private static void EmitStorageKernel(SourceWriter w, RuleSpec spec, InternalNames names, StorageKernel storage)
    {
        List<ParameterSpec> buffers = Buffers(spec);
        string rounding = storage.Rounding;
        w.Line($"/// <summary>");
        w.Line($"/// The fused loops of the update rule <c>{EmitterCommon.Raw(spec.MethodName)}</c> over buffers stored as float, bfloat16 or fp16: the float");
        w.Line($"/// kernel's body between widening loads and rounding stores. Carries the prepared float kernel and the caller's rounding.");
        w.Line($"/// </summary>");
        w.Line(GeneratedCode);
        w.Line("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]");
        w.Line($"private readonly struct {storage.KernelType}<{storage.TypeParameterList}> : {CompilerServices}.IStorageChunkKernel");
        w.Open("    " + storage.Constraints);
        w.Line($"private readonly {names.KernelType} {storage.KernelField};");
        w.Line($"private readonly {StochasticRoundingType} {rounding};");
        w.Line();
        w.Open($"internal {storage.KernelType}({names.KernelType} {storage.KernelField}, {StochasticRoundingType} {rounding})");
        w.Line($"this.{storage.KernelField} = {storage.KernelField};");
        w.Line($"this.{rounding} = {rounding};");
        w.Close();
        w.Line();

        w.Line($"public void Execute(in {CompilerServices}.PinnedBuffers<byte> buffers, int start, int length, long position) =>");
        w.Line($"    {names.Run}({string.Join(", ", buffers.Select((b, i) => $"buffers.SliceAs<{storage.TypeOf(b)}>({i}, start, length)"))}, position);");
        w.Line();

        // Run: the float kernel's flag dispatch, carrying the step position; then the stochastic-rounding flag.
        string spanParams = string.Join(", ", buffers.Select(b => b.Role == ParameterRole.In
            ? $"global::System.ReadOnlySpan<{storage.TypeOf(b)}> {b.Name}" : $"global::System.Span<{storage.TypeOf(b)}> {b.Name}"));
        string spanArgs = string.Join(", ", buffers.Select(b => b.Name));
        string position = storage.Position;
        Flags flags = new(spec, names, storage.Stochastic);
        var flagParameters = flags.TypeParameters.Take(flags.Count).ToList();
        for (int level = 0; level <= flags.Count; level++)
        {
            string[] known = flagParameters.Take(level).ToArray();
            string Instantiate(string value) => "<" + string.Join(", ", known.Append(value)) + ">";
            if (level == 0)
                w.Open($"public void {names.Run}({spanParams}, long {position})");
            else
                w.Open($"private void {names.Run}<{string.Join(", ", known)}>({spanParams}, long {position}){Flags.Constraints(known)}");
            if (level < flags.Count)
            {
                w.Line($"if (this.{storage.KernelField}.{names.FieldOf(flags.Names[level])})");
                w.Line($"    {names.Run}{Instantiate(CompilerServices + ".True")}({spanArgs}, {position});");
                w.Line("else");
                w.Line($"    {names.Run}{Instantiate(CompilerServices + ".False")}({spanArgs}, {position});");
            }
            else
            {
                w.Line($"// Stochastic rounding of {EmitterCommon.Raw(storage.Parameter.Name)} only where it is stored as bfloat16 and the caller asked for it; its index runs from the step position.");
                w.Line($"if (typeof({storage.Groups[0].TypeParameter}) == typeof({BFloat16Type}) && this.{rounding}.IsEnabled)");
                w.Line($"    {names.Run}{Instantiate(CompilerServices + ".True")}({spanArgs}, this.{rounding}.Skip((ulong){position}));");
                w.Line("else");
                w.Line($"    {names.Run}{Instantiate(CompilerServices + ".False")}({spanArgs}, default);");
            }
            w.Close();
            w.Line();
        }
        w.Open($"private void {names.Run}{flags.Generic}({spanParams}, {StochasticRoundingType} {rounding}){flags.Where}");
        w.Line($"int {names.Length} = {buffers[0].Name}.Length;");
        foreach (ParameterSpec b in buffers)
            w.Line($"ref {storage.TypeOf(b)} {names.RefOf(b)} = ref {MemoryMarshal}.GetReference({b.Name});");
        string refArgs = string.Join(", ", buffers.Select(b => "ref " + names.RefOf(b)));
        if (buffers[0].Guard is not null)
            w.Line($"{names.Length} = {string.Join(" : ", buffers.Select(b => $"!{b.Name}.IsEmpty ? {b.Name}.Length"))} : 0;");
        w.Line("// The random bits of this run's elements, one Philox call per eight (unused when rounding to nearest).");
        w.Line($"var {storage.Bits} = new {StochasticBitsType}(in {rounding});");
        string extra = storage.ExtraArgument;
        w.Line($"int {names.I} = 0;");
        w.Line("if (global::System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)");
        w.Line($"    {names.I} = {names.RunWidth("512")}{flags.Generic}({refArgs}, {names.Length}{extra});");
        w.Line("else if (global::System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)");
        w.Line($"    {names.I} = {names.RunWidth("256")}{flags.Generic}({refArgs}, {names.Length}{extra});");
        w.Line("else if (global::System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated)");
        w.Line($"    {names.I} = {names.RunWidth("128")}{flags.Generic}({refArgs}, {names.Length}{extra});");
        w.Line($"{names.RunScalar}{flags.Generic}({refArgs}, {names.I}, {names.Length}{extra});");
        w.Close();

        foreach (string width in s_widths)
        {
            w.Line();
            EmitVectorLoop(w, spec, names, width, flags, storage);
            w.Line();
            EmitVectorBlock(w, spec, names, width, flags, storage);
        }
        w.Line();
        EmitScalarLoop(w, spec, names, flags, storage);
        w.Close();
    }

    /// <summary>
    /// The stores of a storage block or tail: every assigned <c>ref</c> buffer rounded to nearest, the parameter stochastically
    /// under the stochastic-rounding flag. <paramref name="value"/> gives the stored value (the vector, or its lower half).
    /// </summary>
    private static void EmitStorageStores(SourceWriter w, RuleSpec spec, InternalNames names, StorageKernel storage,
        System.Func<ParameterSpec, string> value, string at, Flags flags)
    {
        foreach (ParameterSpec b in Buffers(spec).Where(b => b.Role == ParameterRole.Ref && b.IsWritten))
        {
            string nearest = $"{StorageHelpers}.Store({value(b)}, ref {names.RefOf(b)}, {at});";
            if (b != storage.Parameter)
            {
                w.Line(b.Guard is null ? nearest : $"if ({flags.Condition(b.Guard)}) {nearest}");
                continue;
            }
            if (b.Guard is not null)
                w.Open($"if ({flags.Condition(b.Guard)})");
            w.Line($"if ({storage.Stochastic}.Value)");
            w.Line($"    {StorageHelpers}.StoreStochastic({value(b)}, ref {names.RefOf(b)}, {at}, ref {storage.Bits});");
            w.Line("else");
            w.Line("    " + nearest);
            if (b.Guard is not null)
                w.Close();
        }
    }

    /// <summary>The buffers that share one storage type argument.</summary>
    internal sealed class StorageGroup
    {
        public StorageGroup(string typeParameter, List<ParameterSpec> buffers, string role)
        {
            TypeParameter = typeParameter;
            Buffers = buffers;
            Role = role;
        }

        public string TypeParameter { get; }

        public List<ParameterSpec> Buffers { get; }

        private string Role { get; }

        /// <summary>"<paramref name="param"/> is", "the state buffers (…, …) are".</summary>
        public string Describe()
        {
            string list = string.Join(", ", Buffers.Select(b => $"<paramref name=\"{EmitterCommon.Raw(b.Name)}\"/>"));
            return Buffers.Count == 1 ? $"{list} is" : $"the {Role} buffers ({list}) are";
        }
    }

    /// <summary>
    /// The names and types of a rule's storage kernel: the type parameters — the parameter's (first <c>ref</c> buffer), the
    /// read-only buffers' and the other <c>ref</c> buffers' storage types — and the struct, fields and flag it declares.
    /// </summary>
    internal sealed class StorageKernel
    {
        private readonly Dictionary<string, string> _types = new();
        private readonly Dictionary<string, string> _values = new();

        public StorageKernel(RuleSpec spec, InternalNames names)
        {
            List<ParameterSpec> buffers = Buffers(spec);
            // The grouping the GPU storage launchers use too (EmitterCommon.StorageGroups): the parameter (the first ref
            // buffer; for a rule with errors and none, the first buffer), the read-only buffers, the other ref buffers.
            var groups = EmitterCommon.StorageGroups(spec)
                .Select(g => new StorageGroup(names.PickName(g.TypeParameter), g.Buffers, g.Role)).ToList();
            Parameter = groups[0].Buffers[0];
            Groups = groups;
            foreach (StorageGroup group in groups)
            {
                foreach (ParameterSpec b in group.Buffers)
                    _types[b.Name] = group.TypeParameter;
            }
            KernelType = names.PickName(EmitterCommon.Raw(spec.MethodName) + "StorageKernel");
            KernelField = names.Kernel;
            Options = names.Options;
            Rounding = names.PickName("rounding");
            Stochastic = names.PickName("TStochasticRounding");
            Bits = names.PickName("bits");
            Instance = names.PickName("storage");
            Position = names.PickName("position");
            Pinned = names.PickName("pinned");
            foreach (ParameterSpec b in buffers)
                _values[b.Name] = names.PickName(EmitterCommon.Raw(b.Name) + "Value");
        }

        /// <summary>The parameter: the buffer of the first type argument, the one stochastic rounding applies to.</summary>
        public ParameterSpec Parameter { get; }

        public List<StorageGroup> Groups { get; }

        public string KernelType { get; }

        /// <summary>The struct's field holding the prepared float kernel.</summary>
        public string KernelField { get; }

        /// <summary>The overloads' options (their <c>Rounding</c> is the caller's rounding).</summary>
        public string Options { get; }

        /// <summary>The struct's field and the loops' parameter holding the caller's rounding.</summary>
        public string Rounding { get; }

        /// <summary>The loops' flag type parameter: round the parameter stochastically.</summary>
        public string Stochastic { get; }

        /// <summary>The overloads' local holding the storage kernel.</summary>
        public string Instance { get; }

        /// <summary>The index of a span's first element in the step (the stochastic rounding's element index).</summary>
        public string Position { get; }

        /// <summary>The multi-tensor overload's pinned tensors.</summary>
        public string Pinned { get; }

        /// <summary>Where the loops find the prepared values: the float kernel's fields.</summary>
        public string Prepared => "this." + KernelField;

        /// <summary>The loops' and blocks' parameter holding the random bits of the stochastic rounding.</summary>
        public string Bits { get; }

        /// <summary>The loops' and blocks' parameter after their buffers' (the random bits, filled a group at a time as the loop goes).</summary>
        public string ExtraParameter => $", ref {StochasticBitsType} {Bits}";

        public string ExtraArgument => ", ref " + Bits;

        public string TypeParameterList => string.Join(", ", Groups.Select(g => g.TypeParameter));

        public string Constraints => string.Join(" ", Groups.Select(g => $"where {g.TypeParameter} : unmanaged"));

        /// <summary>The test that every buffer is float (a constant in each instantiation).</summary>
        public string AllFloat => string.Join(" && ", Groups.Select(g => $"typeof({g.TypeParameter}) == typeof(float)"));

        /// <summary>A buffer's storage type argument.</summary>
        public string TypeOf(ParameterSpec buffer) => _types[buffer.Name];

        /// <summary>The fallback's float copy of a buffer's element.</summary>
        public string ValueOf(ParameterSpec buffer) => _values[buffer.Name];
    }
}

using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// Writes one rule's generated file: the public span overload (prologue of step-invariant values,
/// argument checks, dispatch to one thread or many) and a kernel struct holding the fused loops —
/// Vector512, Vector256 and Vector128 forms, unrolled by four, and a scalar tail that updates each
/// remaining element exactly once.
/// </summary>
internal static class RuleEmitter
{
    /// <summary>Vectors per unrolled iteration.</summary>
    public const int Unroll = 4;

    /// <summary>Chunks handed to threads are multiples of this many elements (keeps chunk starts 4 KiB-aligned relative to the span for float).</summary>
    public const int ChunkAlignment = 1024;

    private static readonly string[] s_widths = { "Vector512", "Vector256", "Vector128" };

    public static string Emit(RuleSpec spec)
    {
        var names = new InternalNames(spec.TakenNames);
        return EmitterCommon.WriteFile(spec, w =>
        {
            EmitSpanOverload(w, spec, names);
            w.Line();
            EmitMultiTensorOverload(w, spec, names);
            w.Line();
            EmitKernel(w, spec, names);
        });
    }

    private static List<ParameterSpec> Buffers(RuleSpec spec) => EmitterCommon.Buffers(spec);

    private static string KernelName(RuleSpec spec) => spec.MethodName + "Kernel";

    private static string GeneratedCode => EmitterCommon.GeneratedCode;

    // ---- Public span overload -----------------------------------------------------------------

    private static void EmitSpanOverload(SourceWriter w, RuleSpec spec, InternalNames names)
    {
        string t = spec.ElementType;
        List<ParameterSpec> buffers = Buffers(spec);
        ParameterSpec first = buffers[0];

        w.Line($"/// <summary>");
        w.Line($"/// Runs <see cref=\"{CrefSignature(spec)}\"/> over every element of the spans in one fused,");
        w.Line($"/// vectorized pass; bit-identical to calling it element by element. Step-invariant values are computed once.");
        w.Line($"/// </summary>");
        EmitParameterDocs(w, spec, "Per-element buffer", " (see the rule); otherwise it may be empty");
        w.Line($"/// <param name=\"{names.Options}\">Threading: by default spans above <see cref=\"global::Kernels.StepOptions.DefaultParallelThreshold\"/> elements are split across all cores.</param>");
        w.Line($"/// <exception cref=\"global::System.ArgumentException\">A span's length differs from <paramref name=\"{first.Name.TrimStart('@')}\"/>'s, or a written span overlaps another span. Nothing is written.</exception>");
        w.Line(GeneratedCode);

        string parameters = string.Join(", ", spec.Parameters.Select(p => p.Role switch
        {
            ParameterRole.Ref => $"global::System.Span<{t}> {p.Name}",
            ParameterRole.In => $"global::System.ReadOnlySpan<{t}> {p.Name}",
            _ => EmitterCommon.UniformParameter(p),
        }));
        w.Open($"{spec.Accessibility} static void {spec.MethodName}({parameters}, global::Kernels.StepOptions {names.Options} = default)");

        EmitterCommon.EmitPrologue(w, spec, "// Step-invariant values: the rule's uniform part, computed once per call.");

        w.Line("// Argument checks, before any element is written.");
        w.Line($"int {names.Length} = {first.Name}.Length;");
        foreach (ParameterSpec b in buffers.Skip(1))
        {
            EmitterCommon.EmitLengthCheck(w, b, names.Length,
                $"'{EmitterCommon.Raw(b.Name)}' has {{{b.Name}.Length}} elements but '{EmitterCommon.Raw(first.Name)}' has {{{names.Length}}}; every per-element span of a step must have the same length.");
        }
        EmitterCommon.EmitOverlapChecks(w, buffers,
            (a, b) => $"global::System.MemoryExtensions.Overlaps((global::System.ReadOnlySpan<{t}>){a.Name}, (global::System.ReadOnlySpan<{t}>){b.Name})", "span");
        w.Line();

        EmitClearUnused(w, buffers);

        string kernel = KernelName(spec);
        string inputs = string.Join(", ", spec.KernelInputs.Select(k => k.Name));
        w.Line($"var {names.Kernel} = new {kernel}({inputs});");
        w.Line($"int {names.Threads} = {names.Options}.ThreadCountFor({names.Length}, {kernel}.ChunkAlignment);");
        string spans = string.Join(", ", buffers.Select(b => b.Name));
        w.Line($"if ({names.Threads} <= 1)");
        w.Line($"    {names.Kernel}.Run({spans});");
        w.Line("else");
        w.Line($"    global::Kernels.ParallelStep.Run<{t}, {kernel}>({names.Kernel}, {names.Length}, {names.Threads}, {kernel}.ChunkAlignment, {spans});");
        w.Close();
    }

    private static string CrefSignature(RuleSpec spec) => EmitterCommon.Cref(spec);

    // ---- Multi-tensor overload ----------------------------------------------------------------

    /// <summary>
    /// The same step over many tensors (a model's parameters, one entry per tensor in each list): one
    /// prologue, and one parallel dispatch over the concatenated tensors instead of one per tensor.
    /// </summary>
    private static void EmitMultiTensorOverload(SourceWriter w, RuleSpec spec, InternalNames names)
    {
        string t = spec.ElementType;
        List<ParameterSpec> buffers = Buffers(spec);
        ParameterSpec first = buffers[0];
        string k = names.Tensor;

        w.Line("/// <summary>");
        w.Line($"/// Runs <see cref=\"{CrefSignature(spec)}\"/> over many tensors at once (entry <c>i</c> of every list is tensor <c>i</c>):");
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
        EmitterCommon.EmitPrologue(w, spec, "// Step-invariant values: the rule's uniform part, computed once for every tensor.");

        w.Line("// Argument checks, before any element of any tensor is written.");
        w.Line($"int {names.Count} = {first.Name}.Length;");
        foreach (ParameterSpec b in buffers.Skip(1))
        {
            EmitterCommon.EmitLengthCheck(w, b, names.Count,
                $"'{EmitterCommon.Raw(b.Name)}' holds {{{b.Name}.Length}} tensors but '{EmitterCommon.Raw(first.Name)}' holds {{{names.Count}}}; every list must have one buffer per tensor.");
        }
        w.Open($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
        w.Line($"int {names.Length} = {first.Name}[{k}].Length;");
        foreach (ParameterSpec b in buffers.Skip(1))
        {
            string condition = $"{b.Name}[{k}].Length != {names.Length}";
            if (b.Guard is not null)
                condition = $"{b.Guard} && {condition}";
            w.Line($"if ({condition})");
            w.Line($"    throw new global::System.ArgumentException($\"'{EmitterCommon.Raw(b.Name)}[{{{k}}}]' has {{{b.Name}[{k}].Length}} elements but '{EmitterCommon.Raw(first.Name)}[{{{k}}}]' has {{{names.Length}}}; the buffers of a tensor must have the same length.\", nameof({b.Name}));");
        }
        EmitterCommon.EmitOverlapChecks(w, buffers,
            (a, b) => $"global::System.MemoryExtensions.Overlaps((global::System.ReadOnlySpan<{t}>){a.Name}[{k}].Span, (global::System.ReadOnlySpan<{t}>){b.Name}[{k}].Span)", "buffer");
        w.Close();
        w.Line();

        EmitClearUnused(w, buffers);

        string kernel = KernelName(spec);
        w.Line($"var {names.Kernel} = new {kernel}({string.Join(", ", spec.KernelInputs.Select(i => i.Name))});");
        w.Line($"long {names.Total} = global::Kernels.MultiTensorStep.TotalLength({AsReadOnlyList(first)});");
        w.Line($"int {names.Threads} = {names.Options}.ThreadCountFor((int)global::System.Math.Min({names.Total}, int.MaxValue), {kernel}.ChunkAlignment);");
        w.Open($"if ({names.Threads} <= 1)");
        string spans = string.Join(", ", buffers.Select(b => b.Guard is null ? $"{b.Name}[{k}].Span" : $"{b.Name}.IsEmpty ? default : {b.Name}[{k}].Span"));
        w.Line($"for (int {k} = 0; {k} < {names.Count}; {k}++)");
        w.Line($"    {names.Kernel}.Run({spans});");
        w.Close();
        w.Line("else");
        w.Line($"    global::Kernels.MultiTensorStep.Run<{t}, {kernel}>({names.Kernel}, {names.Threads}, {kernel}.ChunkAlignment, {string.Join(", ", buffers.Select(AsReadOnlyList))});");
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
    private static void EmitClearUnused(SourceWriter w, IEnumerable<ParameterSpec> buffers)
    {
        List<ParameterSpec> guarded = buffers.Where(b => b.Guard is not null).ToList();
        if (guarded.Count == 0)
            return;
        w.Line("// Buffers this configuration does not use are never touched.");
        foreach (ParameterSpec b in guarded)
            w.Line($"if (!{b.Guard}) {b.Name} = default;");
        w.Line();
    }

    private static string AsReadOnlyList(ParameterSpec buffer) =>
        buffer.Role == ParameterRole.Ref ? $"global::Kernels.MultiTensorStep.AsReadOnly({buffer.Name})" : buffer.Name;

    // ---- Kernel struct ------------------------------------------------------------------------

    private static void EmitKernel(SourceWriter w, RuleSpec spec, InternalNames names)
    {
        string t = spec.ElementType;
        string kernel = KernelName(spec);
        List<ParameterSpec> buffers = Buffers(spec);

        w.Line($"/// <summary>The fused loops of <see cref=\"{CrefSignature(spec)}\"/>, carrying one call's step-invariant values.</summary>");
        w.Line(GeneratedCode);
        w.Open($"private readonly struct {kernel} : global::Kernels.IChunkKernel<{t}>");
        w.Line($"/// <summary>Chunks handed to threads are multiples of this many elements.</summary>");
        w.Line($"public const int ChunkAlignment = {ChunkAlignment};");
        w.Line();
        foreach (KernelInputSpec input in spec.KernelInputs)
            w.Line($"private readonly {input.TypeName} {input.Name};");
        w.Line();
        string ctorParams = string.Join(", ", spec.KernelInputs.Select(k => $"{k.TypeName} {k.Name}"));
        w.Open($"public {kernel}({ctorParams})");
        foreach (KernelInputSpec input in spec.KernelInputs)
            w.Line($"this.{input.Name} = {input.Name};");
        w.Close();
        w.Line();

        // Chunk entry point for worker threads.
        w.Line($"public void Execute(in global::Kernels.PinnedBuffers<{t}> buffers, int start, int length) =>");
        w.Line($"    Run({string.Join(", ", buffers.Select((b, i) => $"buffers.Slice({i}, start, length)"))});");
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
                w.Open($"public void Run({spanParams})");
            else
                w.Open($"private void Run<{string.Join(", ", known)}>({spanParams}){Flags.Constraints(known)}");
            w.Line($"if (this.{flags.Names[level]})");
            w.Line($"    Run{Instantiate("global::Kernels.True")}({spanArgs});");
            w.Line("else");
            w.Line($"    Run{Instantiate("global::Kernels.False")}({spanArgs});");
            w.Close();
            w.Line();
        }
        if (flags.Count == 0)
            w.Open($"public void Run({spanParams})");
        else
            w.Open($"private void Run{flags.Generic}({spanParams}){flags.Where}");
        w.Line($"int {names.Length} = {buffers[0].Name}.Length;");
        foreach (ParameterSpec b in buffers)
            w.Line($"ref {t} {names.RefOf(b)} = ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference({b.Name});");
        string refArgs = string.Join(", ", buffers.Select(b => "ref " + names.RefOf(b)));
        w.Line($"int {names.I} = 0;");
        w.Line($"if (global::System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)");
        w.Line($"    {names.I} = Run512{flags.Generic}({refArgs}, {names.Length});");
        w.Line($"else if (global::System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)");
        w.Line($"    {names.I} = Run256{flags.Generic}({refArgs}, {names.Length});");
        w.Line($"else if (global::System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated)");
        w.Line($"    {names.I} = Run128{flags.Generic}({refArgs}, {names.Length});");
        w.Line($"RunScalar{flags.Generic}({refArgs}, {names.I}, {names.Length});");
        w.Close();

        foreach (string width in s_widths)
        {
            w.Line();
            EmitVectorLoop(w, spec, names, width, flags);
            w.Line();
            EmitVectorBlock(w, spec, names, width, flags);
        }
        w.Line();
        EmitScalarLoop(w, spec, names, flags);
        w.Close();
    }

    /// <summary>Hoisted bools the body uses as per-element masks (e.g. <c>amsgrad &amp;&amp; grad &gt; 0</c>); only those get a broadcast mask.</summary>
    private static HashSet<string> UniformMasks(RuleSpec spec) =>
        new(Expressions(spec.Body).OfType<UniformExpr>().Where(u => u.Kind == ValueKind.Mask).Select(u => u.Name));

    /// <summary>
    /// Whether the rule converts between float and double per element. Such a rule's vector block
    /// holds as many elements as one vector of doubles, and float buffers are loaded half a vector at a time.
    /// </summary>
    private static bool IsMixed(RuleSpec spec) =>
        Expressions(spec.Body).Any(e => e.Kind.IsOther())
        || Statements(spec.Body).Any(s => s is AssignStmt { Kind: ValueKind.Other or ValueKind.OtherMask } or DeclareStmt { Kind: ValueKind.Other or ValueKind.OtherMask });

    private static IEnumerable<ElementStmt> Statements(IEnumerable<ElementStmt> statements)
    {
        foreach (ElementStmt s in statements)
        {
            yield return s;
            IEnumerable<ElementStmt> nested = s switch
            {
                UniformIfStmt u => u.Then.Concat(u.Else),
                ElementIfStmt e => e.Then.Concat(e.Else),
                _ => Enumerable.Empty<ElementStmt>(),
            };
            foreach (ElementStmt n in Statements(nested))
                yield return n;
        }
    }

    private static IEnumerable<ElementExpr> Expressions(IEnumerable<ElementStmt> statements)
    {
        foreach (ElementStmt s in Statements(statements))
        {
            ElementExpr? root = s switch
            {
                AssignStmt a => a.Value,
                ElementIfStmt e => e.Condition,
                _ => null,
            };
            if (root is null)
                continue;
            foreach (ElementExpr e in Expressions(root))
                yield return e;
        }
    }

    private static IEnumerable<ElementExpr> Expressions(ElementExpr root)
    {
        yield return root;
        IEnumerable<ElementExpr> children = root switch
        {
            UnaryExpr u => new[] { u.Operand },
            BinaryExpr b => new[] { b.Left, b.Right },
            CallExpr c => c.Arguments,
            SelectExpr s => new[] { s.Condition, s.WhenTrue, s.WhenFalse },
            UniformSelectExpr s => new[] { s.WhenTrue, s.WhenFalse },
            ConvertExpr c => new[] { c.Operand },
            _ => Enumerable.Empty<ElementExpr>(),
        };
        foreach (ElementExpr child in children)
        {
            foreach (ElementExpr e in Expressions(child))
                yield return e;
        }
    }

    private static string RefParams(RuleSpec spec, InternalNames names) =>
        string.Join(", ", Buffers(spec).Select(b => $"ref {spec.ElementType} {names.RefOf(b)}"));

    private static void EmitVectorLoop(SourceWriter w, RuleSpec spec, InternalNames names, string width, Flags flags)
    {
        string t = spec.ElementType;
        string vec = $"global::System.Runtime.Intrinsics.{width}";
        bool mixed = IsMixed(spec);
        string count = $"{vec}<{(mixed ? "double" : t)}>.Count";
        string bits = width.Substring("Vector".Length);
        List<ParameterSpec> buffers = Buffers(spec);

        w.Line(mixed
            ? $"/// <summary>Blocks of {width}<double>.Count elements (the rule mixes float and double), {Unroll} per iteration; returns the index of the first element left for the tail.</summary>"
            : $"/// <summary>Whole {width} vectors, {Unroll} per iteration; returns the index of the first element left for the tail.</summary>");
        HashSet<string> masks = UniformMasks(spec);
        w.Open($"private int Run{bits}{flags.Generic}({RefParams(spec, names)}, int {names.Length}){flags.Where}");
        if (spec.KernelInputs.Count > 0)
        {
            w.Line("// Step-invariant values, broadcast once.");
            foreach (KernelInputSpec input in spec.KernelInputs)
            {
                if (input.TypeName == "bool")
                {
                    if (!flags.Contains(input.Name))
                        w.Line($"bool {input.Name} = this.{input.Name};");
                    if (masks.Contains(input.Name))
                        w.Line($"var {input.Name}Mask = this.{input.Name} ? {vec}<{t}>.AllBitsSet : {vec}<{t}>.Zero;");
                }
                else
                {
                    w.Line($"var {input.Name} = {vec}.Create(this.{input.Name});");
                }
            }
        }
        string refArgs = string.Join(", ", buffers.Select(b => "ref " + names.RefOf(b)));
        string inputArgs = string.Join("", BlockInputs(spec, flags, masks).Select(i => ", " + i.Name));
        w.Line($"int {names.I} = 0;");
        w.Open($"for (; {names.I} <= {names.Length} - {Unroll} * {count}; {names.I} += {Unroll} * {count})");
        for (int u = 0; u < Unroll; u++)
        {
            string offset = u == 0 ? $"(nuint){names.I}" : $"(nuint)({names.I} + {u} * {count})";
            w.Line($"Block{bits}{flags.Generic}({refArgs}, {offset}{inputArgs});");
        }
        w.Close();
        w.Line($"for (; {names.I} <= {names.Length} - {count}; {names.I} += {count})");
        w.Line($"    Block{bits}{flags.Generic}({refArgs}, (nuint){names.I}{inputArgs});");
        w.Line($"return {names.I};");
        w.Close();
    }

    private static void EmitVectorBlock(SourceWriter w, RuleSpec spec, InternalNames names, string width, Flags flags)
    {
        string t = spec.ElementType;
        string vec = $"global::System.Runtime.Intrinsics.{width}";
        string bits = width.Substring("Vector".Length);
        List<ParameterSpec> buffers = Buffers(spec);
        HashSet<string> masks = UniformMasks(spec);
        string inputParams = string.Join("", BlockInputs(spec, flags, masks).Select(i => $", {(i.Type == "bool" ? "bool" : $"{vec}<{i.Type}>")} {i.Name}"));

        w.Line($"/// <summary>The rule on one {width}: load, compute, store.</summary>");
        w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
        w.Open($"private static void Block{bits}{flags.Generic}({RefParams(spec, names)}, nuint {names.At}{inputParams}){flags.Where}");
        if (IsMixed(spec) && t == "float")
        {
            // Half a vector of floats per block, in the lower half (the upper half is zero and never stored).
            string half = HalfWidth(width);
            EmitLoads(w, spec, names, b => $"{vec}.Create(global::System.Runtime.Intrinsics.{half}.LoadUnsafe(ref {names.RefOf(b)}, {names.At}), global::System.Runtime.Intrinsics.{half}<float>.Zero)", $"{vec}<{t}>.Zero", "var", flags);
            new BodyEmitter(w, width, t, names.MaskPrefix, flags.Condition).Emit(spec.Body);
            EmitStores(w, spec, b => $"global::System.Runtime.Intrinsics.{half}.StoreUnsafe({vec}.GetLower({b.Name}), ref {names.RefOf(b)}, {names.At});", flags);
        }
        else
        {
            EmitLoads(w, spec, names, b => $"{vec}.LoadUnsafe(ref {names.RefOf(b)}, {names.At})", $"{vec}<{t}>.Zero", "var", flags);
            new BodyEmitter(w, width, t, names.MaskPrefix, flags.Condition).Emit(spec.Body);
            EmitStores(w, spec, b => $"{vec}.StoreUnsafe({b.Name}, ref {names.RefOf(b)}, {names.At});", flags);
        }
        w.Close();
    }

    private static string HalfWidth(string width) => width switch
    {
        "Vector512" => "Vector256",
        "Vector256" => "Vector128",
        _ => "Vector64",
    };

    private static void EmitScalarLoop(SourceWriter w, RuleSpec spec, InternalNames names, Flags flags)
    {
        string t = spec.ElementType;
        w.Line("/// <summary>Elements left after the last whole vector (or all of them without SIMD), one at a time.</summary>");
        w.Open($"private void RunScalar{flags.Generic}({RefParams(spec, names)}, int {names.I}, int {names.Length}){flags.Where}");
        foreach (KernelInputSpec input in spec.KernelInputs.Where(k => !flags.Contains(k.Name)))
            w.Line($"{input.TypeName} {input.Name} = this.{input.Name};");
        w.Open($"for (; {names.I} < {names.Length}; {names.I}++)");
        EmitLoads(w, spec, names, b => $"global::System.Runtime.CompilerServices.Unsafe.Add(ref {names.RefOf(b)}, {names.I})", "0", t, flags);
        new BodyEmitter(w, null, t, names.MaskPrefix, flags.Condition).Emit(spec.Body);
        EmitStores(w, spec, b => $"global::System.Runtime.CompilerServices.Unsafe.Add(ref {names.RefOf(b)}, {names.I}) = {b.Name};", flags);
        w.Close();
        w.Close();
    }

    private static void EmitLoads(SourceWriter w, RuleSpec spec, InternalNames names, System.Func<ParameterSpec, string> load, string zero, string type, Flags flags)
    {
        foreach (ParameterSpec b in Buffers(spec))
        {
            // ref buffers are always loaded: a store must write back the old value in lanes a masked assignment skips.
            if (b.Role == ParameterRole.In && !b.IsRead)
                continue;
            string value = b.Guard is null ? load(b) : $"{flags.Condition(b.Guard)} ? {load(b)} : {zero}";
            w.Line($"{type} {b.Name} = {value};");
        }
    }

    private static void EmitStores(SourceWriter w, RuleSpec spec, System.Func<ParameterSpec, string> store, Flags flags)
    {
        foreach (ParameterSpec b in Buffers(spec).Where(b => b.Role == ParameterRole.Ref && b.IsWritten))
            w.Line(b.Guard is null ? store(b) : $"if ({flags.Condition(b.Guard)}) {store(b)}");
    }

    /// <summary>What a vector block takes besides the buffers: broadcasts, masks, and the bools that are not flags.</summary>
    private static IEnumerable<(string Name, string Type)> BlockInputs(RuleSpec spec, Flags flags, HashSet<string> masks)
    {
        foreach (KernelInputSpec k in spec.KernelInputs)
        {
            if (k.TypeName != "bool")
                yield return (k.Name, k.TypeName);
            else
            {
                if (!flags.Contains(k.Name))
                    yield return (k.Name, "bool");
                if (masks.Contains(k.Name))
                    yield return (k.Name + "Mask", spec.ElementType);
            }
        }
    }

    /// <summary>
    /// The hoisted bools that decide branches (uniform <c>if</c>s, uniform <c>?:</c>, buffer guards), each
    /// passed to the loops as a generic <see cref="T:Kernels.IFlag"/> struct argument: the JIT compiles one
    /// loop per combination actually used, with those branches folded away (it does not unswitch loops itself).
    /// </summary>
    private sealed class Flags
    {
        private readonly Dictionary<string, string> _typeParameters = new();

        public Flags(RuleSpec spec, InternalNames names)
        {
            var used = new HashSet<string>(Statements(spec.Body).OfType<UniformIfStmt>().Select(u => u.Condition)
                .Concat(Expressions(spec.Body).OfType<UniformSelectExpr>().Select(u => u.Condition))
                .Concat(Buffers(spec).Where(b => b.Guard is not null).Select(b => b.Guard!)));
            Names = spec.KernelInputs.Where(k => k.TypeName == "bool" && used.Contains(k.Name)).Select(k => k.Name).ToList();
            TypeParameters = Names.Select(n => names.TypeParameterFor(n)).ToList();
            for (int i = 0; i < Names.Count; i++)
                _typeParameters[Names[i]] = TypeParameters[i];
        }

        public List<string> Names { get; }

        public List<string> TypeParameters { get; }

        public int Count => Names.Count;

        public bool Contains(string name) => _typeParameters.ContainsKey(name);

        /// <summary><c>&lt;TA, TB&gt;</c>, or nothing without flags.</summary>
        public string Generic => Count == 0 ? "" : "<" + string.Join(", ", TypeParameters) + ">";

        public string Where => Constraints(TypeParameters);

        public static string Constraints(IEnumerable<string> typeParameters) =>
            string.Concat(typeParameters.Select(p => $" where {p} : struct, global::Kernels.IFlag"));

        /// <summary>A flag reads as its type argument's constant; any other bool as itself.</summary>
        public string Condition(string name) => _typeParameters.TryGetValue(name, out string? type) ? type + ".Value" : name;
    }

    /// <summary>Names the CPU code declares, chosen so they never collide with the rule's own names.</summary>
    private sealed class InternalNames : EmittedNames
    {
        private readonly Dictionary<string, string> _refs = new();

        public InternalNames(IEnumerable<string> taken) : base(taken)
        {
            Options = Pick("options");
            Length = Pick("length");
            Kernel = Pick("kernel");
            Threads = Pick("threads");
            I = Pick("i");
            At = Pick("at");
            MaskPrefix = Pick("mask");
            Count = Pick("count");
            Tensor = Pick("tensor");
            Total = Pick("total");
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
        public string MaskPrefix { get; }

        public string TypeParameterFor(string flag) => Pick("T" + char.ToUpperInvariant(EmitterCommon.Raw(flag)[0]) + EmitterCommon.Raw(flag).Substring(1));

        public string RefOf(ParameterSpec buffer)
        {
            if (!_refs.TryGetValue(buffer.Name, out string? name))
                _refs[buffer.Name] = name = Pick(EmitterCommon.Raw(buffer.Name) + "Ref");
            return name;
        }
    }
}

using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// Writes one rule's GPU file (only for compilations that reference ILGPU): two launchers on the user's
/// partial type beside the span overload, and a nested <c>{Method}Gpu</c> class holding the kernels.
/// <list type="bullet">
/// <item><c>Method(AcceleratorStream stream, ArrayView&lt;T&gt; …buffers, …uniforms)</c>: the span overload's
/// parameter order and defaults; the step-invariant values are computed once on the host and passed to the
/// kernel in an <c>Inputs</c> struct; one launch, one thread per element.</item>
/// <item><c>Method(AcceleratorStream stream, GpuTensorTable tensors, ArrayView&lt;T&gt; …packed buffers,
/// ReadOnlySpan&lt;{Method}Gpu.Inputs&gt; perTensor)</c>: the multi-tensor launch — one launch updates every
/// tensor of a packed layout, each with its own step-invariant values (<c>{Method}Gpu.Prepare(…)</c>).</item>
/// </list>
/// The kernel body is the scalar body (<see cref="BodyEmitter"/>), with math calls mapped by <see cref="IlgpuKnownMethods"/>.
/// Nothing here is touched by the CPU path: ILGPU types appear only in these methods' signatures and in the
/// nested class, so ILGPU.dll loads on the first GPU call, not before.
/// </summary>
internal static class IlgpuEmitter
{
    /// <summary>True when the compilation can use the GPU part: ILGPU and the Kernels GPU runtime are referenced.</summary>
    public const string AcceleratorMetadataName = "ILGPU.Runtime.Accelerator";

    /// <summary>The runtime helpers the emitted code calls.</summary>
    public const string RuntimeMetadataName = "Kernels.Gpu.GpuKernels";

    public static string HintName(RuleSpec spec) => spec.HintName.Substring(0, spec.HintName.Length - ".g.cs".Length) + ".Gpu.g.cs";

    private const string Stream = "global::ILGPU.Runtime.AcceleratorStream";
    private const string Accelerator = "global::ILGPU.Runtime.Accelerator";
    private const string Index1D = "global::ILGPU.Index1D";
    private const string Checks = "global::Kernels.Gpu.GpuChecks";
    private const string Table = "global::Kernels.Gpu.GpuTensorTable";
    private const string Argument = "global::System.ArgumentException";

    public static string Emit(RuleSpec spec)
    {
        var names = new GpuNames(spec);
        return EmitterCommon.WriteFile(spec, w =>
        {
            EmitLauncher(w, spec, names);
            w.Line();
            EmitMultiTensorLauncher(w, spec, names);
            w.Line();
            EmitKernelClass(w, spec, names);
        });
    }

    private static List<ParameterSpec> Buffers(RuleSpec spec) => EmitterCommon.Buffers(spec);

    private static string View(RuleSpec spec) => $"global::ILGPU.ArrayView<{spec.ElementType}>";

    private static string Raw(string name) => EmitterCommon.Raw(name);

    private static string GeneratedCode => EmitterCommon.GeneratedCode;

    private static string Cref(RuleSpec spec) => EmitterCommon.Cref(spec);

    private static string UniformParameters(RuleSpec spec) =>
        string.Join(", ", spec.Parameters.Where(p => p.Role == ParameterRole.Uniform).Select(EmitterCommon.UniformParameter));

    private static string InputsConstruction(RuleSpec spec, GpuNames names) =>
        $"new {names.ClassPath}.Inputs({string.Join(", ", spec.KernelInputs.Select(k => $"{names.Prepared}.{names.Kernel.FieldOf(k.Name)}"))})";

    /// <summary>The rule's one <c>Prepare</c> (in the CPU file), and the buffer guards the checks need.</summary>
    private static void EmitPrologue(SourceWriter w, RuleSpec spec, GpuNames names)
    {
        w.Line("// Step-invariant values: the rule's uniform part, computed once per call on the host.");
        w.Line($"var {names.Prepared} = {names.Kernel.KernelType}.{names.Kernel.Prepare}({KernelNaming.PrepareArguments(spec)});");
        // A guard that is a bool parameter (`amsgrad`) is at hand already; a hoisted one is read back.
        var parameters = new HashSet<string>(spec.Parameters.Select(p => p.Name));
        foreach (string guard in Buffers(spec).Where(b => b.Guard is not null).Select(b => b.Guard!).Distinct().Where(g => !parameters.Contains(g)))
            w.Line($"bool {guard} = {names.Prepared}.{names.Kernel.FieldOf(guard)};");
        w.Line();
    }

    // ---- Single launch ------------------------------------------------------------------------

    private static void EmitLauncher(SourceWriter w, RuleSpec spec, GpuNames names)
    {
        List<ParameterSpec> buffers = Buffers(spec);
        ParameterSpec first = buffers[0];

        w.Line("/// <summary>");
        w.Line($"/// Runs the update rule <c>{Cref(spec)}</c> on every element of the views in one ILGPU kernel launch on");
        w.Line($"/// <paramref name=\"{names.Stream}\"/> (asynchronous: synchronize the stream before reading results on the host).");
        w.Line("/// The step-invariant values are computed once here, on the host; the kernel is compiled once per accelerator.");
        w.Line("/// </summary>");
        w.Line($"/// <param name=\"{names.Stream}\">The stream to launch on; every view must live on its accelerator.</param>");
        foreach (ParameterSpec p in spec.Parameters)
            w.Line($"/// <param name=\"{Raw(p.Name)}\">{ParameterDoc(p)}</param>");
        w.Line($"/// <exception cref=\"global::System.ArgumentException\">A view's length differs from <paramref name=\"{Raw(first.Name)}\"/>'s, a view is not on the stream's accelerator, or a written view overlaps another view. Nothing is launched.</exception>");
        w.Line(GeneratedCode);

        string parameters = string.Join(", ", new[] { $"{Stream} {names.Stream}" }
            .Concat(buffers.Select(b => $"{View(spec)} {b.Name}"))
            .Concat(new[] { UniformParameters(spec) }.Where(s => s.Length > 0)));
        w.Open($"{spec.Accessibility} static void {spec.MethodName}({parameters})");
        w.Line($"global::System.ArgumentNullException.ThrowIfNull({names.Stream}, \"{names.Stream}\");");
        EmitPrologue(w, spec, names);

        w.Line("// Argument checks, before anything is launched.");
        w.Line($"long {names.Length} = {first.Name}.Length;");
        foreach (ParameterSpec b in buffers.Skip(1))
        {
            EmitterCommon.EmitLengthCheck(w, b, names.Length,
                $"'{Raw(b.Name)}' has {{{b.Name}.Length}} elements but '{Raw(first.Name)}' has {{{names.Length}}}; every per-element view of a step must have the same length.");
        }
        w.Line($"if ({names.Length} == 0)");
        w.Line("    return;");
        EmitViewChecks(w, spec, names, first.Name);
        w.Line();
        EmitStandIns(w, spec);

        string views = string.Join(", ", buffers.Select(b => b.Name));
        w.Line($"{names.ClassPath}.Launch({names.Stream}, (int){names.Length}, {views}, {InputsConstruction(spec, names)});");
        w.Close();
    }

    private static string ParameterDoc(ParameterSpec p) => p.Role switch
    {
        ParameterRole.Ref when p.Guard is not null => "Per-element view, read and written only when the rule's condition for it holds (see the rule); otherwise it may be empty or default and is never touched.",
        ParameterRole.Ref => "Per-element view, read and written.",
        ParameterRole.In => "Per-element view, read only.",
        _ => "Passed to the rule unchanged (uniform for the whole step).",
    };

    /// <summary>Same accelerator, launchable size, no overlap of a written view with another (guarded views only when used).</summary>
    private static void EmitViewChecks(SourceWriter w, RuleSpec spec, GpuNames names, string lengthSource)
    {
        List<ParameterSpec> buffers = Buffers(spec);
        w.Line($"{Accelerator} {names.Accelerator} = {names.Stream}.Accelerator;");
        foreach (ParameterSpec b in buffers)
        {
            string check = $"{Checks}.RequireOn({names.Accelerator}, {b.Name}, \"{Raw(b.Name)}\");";
            w.Line(b.Guard is null ? check : $"if ({b.Guard}) {check}");
        }
        w.Line($"{Checks}.RequireLaunchable({names.Length}, \"{Raw(lengthSource)}\");");
        EmitterCommon.EmitOverlapChecks(w, buffers, (a, b) => $"{Checks}.Overlaps({a.Name}, {b.Name})", "view");
    }

    /// <summary>A guarded view the configuration does not use is replaced by the first unguarded view: the kernel never touches it, but needs a valid view.</summary>
    private static void EmitStandIns(SourceWriter w, RuleSpec spec)
    {
        List<ParameterSpec> guarded = Buffers(spec).Where(b => b.Guard is not null).ToList();
        ParameterSpec? standIn = Buffers(spec).FirstOrDefault(b => b.Guard is null);
        if (guarded.Count == 0 || standIn is null)
            return;
        w.Line("// Views this configuration does not use are never touched; the kernel gets a valid stand-in.");
        foreach (ParameterSpec b in guarded)
            w.Line($"if (!{b.Guard}) {b.Name} = {standIn.Name};");
        w.Line();
    }

    // ---- Multi-tensor launch ------------------------------------------------------------------

    private static void EmitMultiTensorLauncher(SourceWriter w, RuleSpec spec, GpuNames names)
    {
        List<ParameterSpec> buffers = Buffers(spec);
        ParameterSpec first = buffers[0];
        List<string> guards = buffers.Where(b => b.Guard is not null).Select(b => b.Guard!).Distinct().ToList();

        w.Line("/// <summary>");
        w.Line($"/// Runs the update rule <c>{Cref(spec)}</c> on many tensors packed back to back in the views, in ONE kernel launch on");
        w.Line($"/// <paramref name=\"{names.Stream}\"/>, each tensor with its own step-invariant values (its own step count, learning rate…):");
        w.Line($"/// build them with <see cref=\"{names.ClassName}.Prepare\"/>. Tensors sharing all their values can also be updated by the");
        w.Line("/// single-launch overload on the packed views.");
        w.Line("/// </summary>");
        w.Line($"/// <param name=\"{names.Stream}\">The stream to launch on; the table and every view must live on its accelerator.</param>");
        w.Line($"/// <param name=\"{names.Tensors}\">The packed layout: where each tensor starts in the views.</param>");
        foreach (ParameterSpec p in buffers)
            w.Line($"/// <param name=\"{Raw(p.Name)}\">{ParameterDoc(p).Replace("Per-element view", "Packed per-element view of every tensor").Replace("the rule's condition for it holds", "some tensor's values need it")}</param>");
        w.Line($"/// <param name=\"{names.PerTensor}\">One entry per tensor, from <see cref=\"{names.ClassName}.Prepare\"/>.</param>");
        w.Line($"/// <exception cref=\"global::System.ArgumentException\">A view's length differs from the table's total, <paramref name=\"{names.PerTensor}\"/> does not have one entry per tensor, something is not on the stream's accelerator, or a written view overlaps another view. Nothing is launched.</exception>");
        w.Line(GeneratedCode);

        string parameters = string.Join(", ", new[] { $"{Stream} {names.Stream}", $"{Table} {names.Tensors}" }
            .Concat(buffers.Select(b => $"{View(spec)} {b.Name}"))
            .Concat(new[] { $"global::System.ReadOnlySpan<{names.ClassPath}.Inputs> {names.PerTensor}" }));
        w.Open($"{spec.Accessibility} static void {spec.MethodName}({parameters})");
        w.Line($"global::System.ArgumentNullException.ThrowIfNull({names.Stream}, \"{names.Stream}\");");
        w.Line($"global::System.ArgumentNullException.ThrowIfNull({names.Tensors}, \"{names.Tensors}\");");
        w.Line();
        w.Line("// Argument checks, before anything is launched.");
        w.Line($"if ({names.PerTensor}.Length != {names.Tensors}.Count)");
        w.Line($"    throw new {Argument}($\"'{names.PerTensor}' has {{{names.PerTensor}.Length}} entries but '{names.Tensors}' holds {{{names.Tensors}.Count}} tensors; every tensor needs its own values.\", \"{names.PerTensor}\");");
        w.Line($"if (!global::System.Object.ReferenceEquals({names.Tensors}.Accelerator, {names.Stream}.Accelerator))");
        w.Line($"    throw new {Argument}(\"'{names.Tensors}' was built for another accelerator than the stream's.\", \"{names.Tensors}\");");
        if (guards.Count > 0)
        {
            w.Line("// A guarded view is needed when any tensor's values use it.");
            foreach (string guard in guards)
                w.Line($"bool {guard} = false;");
            w.Open($"for (int {names.Tensor} = 0; {names.Tensor} < {names.PerTensor}.Length; {names.Tensor}++)");
            foreach (string guard in guards)
                w.Line($"{guard} |= {names.PerTensor}[{names.Tensor}].{GpuNames.InputField(guard)} != 0;");
            w.Close();
        }
        w.Line($"long {names.Length} = {names.Tensors}.TotalLength;");
        foreach (ParameterSpec b in buffers)
        {
            EmitterCommon.EmitLengthCheck(w, b, names.Length,
                $"'{Raw(b.Name)}' has {{{b.Name}.Length}} elements but the tensors of '{names.Tensors}' hold {{{names.Length}}}; every packed view must hold all of them.");
        }
        w.Line($"if ({names.Length} == 0)");
        w.Line("    return;");
        EmitViewChecks(w, spec, names, names.Tensors);
        w.Line();
        EmitStandIns(w, spec);

        string views = string.Join(", ", buffers.Select(b => b.Name));
        w.Line($"var {names.PerTensorView} = {names.Tensors}.Upload({names.Stream}, {names.PerTensor});");
        w.Line($"{names.ClassPath}.LaunchMultiTensor({names.Stream}, (int){names.Length}, {views}, {names.Tensors}.Offsets, {names.PerTensorView});");
        w.Close();
    }

    // ---- Kernel class -------------------------------------------------------------------------

    private static void EmitKernelClass(SourceWriter w, RuleSpec spec, GpuNames names)
    {
        string t = spec.ElementType;
        List<ParameterSpec> buffers = Buffers(spec);
        string viewParams = string.Join(", ", buffers.Select(b => $"{View(spec)} {names.ViewOf(b)}"));
        string viewArgs = string.Join(", ", buffers.Select(b => names.ViewOf(b)));
        string launchViewParams = string.Join(", ", buffers.Select(b => $"{View(spec)} {b.Name}"));
        string launchViewArgs = string.Join(", ", buffers.Select(b => b.Name));
        string viewTypes = string.Join(", ", buffers.Select(_ => View(spec)));
        string kernelDelegate = $"global::System.Action<{Stream}, {Index1D}, {viewTypes}, Inputs>";
        string multiDelegate = $"global::System.Action<{Stream}, {Index1D}, {viewTypes}, global::ILGPU.ArrayView<long>, global::ILGPU.ArrayView<Inputs>>";

        w.Line($"/// <summary>The ILGPU kernels of the update rule <c>{Cref(spec)}</c> and the values they take from the host.</summary>");
        w.Line(GeneratedCode);
        w.Open($"{spec.Accessibility} static class {names.ClassName}");

        // Inputs struct.
        w.Line("/// <summary>One call's step-invariant values, computed on the host (bools as 0/1: kernel parameters must be blittable).</summary>");
        w.Open("public readonly struct Inputs");
        foreach (KernelInputSpec input in spec.KernelInputs)
            w.Line($"internal readonly {(input.TypeName == "bool" ? "int" : input.TypeName)} {GpuNames.InputField(input.Name)};");
        if (spec.KernelInputs.Count > 0)
            w.Line();
        if (spec.KernelInputs.Count == 0)
        {
            w.Line("// The rule has no step-invariant values; one field keeps the kernel parameter a plain, non-empty struct.");
            w.Line("#pragma warning disable CS0649 // never assigned: always 0");
            w.Line("internal readonly int unused;");
            w.Line("#pragma warning restore CS0649");
        }
        else
        {
            w.Line("/// <summary>Packs the values.</summary>");
            w.Open($"internal Inputs({string.Join(", ", spec.KernelInputs.Select(k => $"{k.TypeName} {k.Name}"))})");
            foreach (KernelInputSpec input in spec.KernelInputs)
                w.Line(input.TypeName == "bool" ? $"this.{GpuNames.InputField(input.Name)} = {input.Name} ? 1 : 0;" : $"this.{GpuNames.InputField(input.Name)} = {input.Name};");
            w.Close();
        }
        w.Close();
        w.Line();

        // Prepare.
        w.Line($"/// <summary>Computes one call's step-invariant values, as the launcher does (for the multi-tensor launch: one per tensor).</summary>");
        foreach (ParameterSpec p in spec.Parameters.Where(p => p.Role == ParameterRole.Uniform))
            w.Line($"/// <param name=\"{Raw(p.Name)}\">{ParameterDoc(p)}</param>");
        w.Open($"public static Inputs Prepare({UniformParameters(spec)})");
        EmitPrologue(w, spec, names);
        w.Line($"return {InputsConstruction(spec, names)};");
        w.Close();
        w.Line();

        // Kernels.
        w.Line("/// <summary>The kernel: one thread per element (an implicitly grouped ILGPU kernel).</summary>");
        w.Line($"public static void Kernel({Index1D} {names.Index}, {viewParams}, Inputs {names.Inputs}) =>");
        w.Line($"    Element({names.Index}, {viewArgs}, {names.Inputs});");
        w.Line();
        w.Line("/// <summary>The multi-tensor kernel: one thread per element of the packed views, with the values of the tensor the element belongs to.</summary>");
        w.Line($"public static void MultiTensorKernel({Index1D} {names.Index}, {viewParams}, global::ILGPU.ArrayView<long> {names.Offsets}, global::ILGPU.ArrayView<Inputs> {names.PerTensor}) =>");
        w.Line($"    Element({names.Index}, {viewArgs}, {names.PerTensor}[{Table}.FindTensor({names.Offsets}, {names.Index})]);");
        w.Line();

        // Element body.
        w.Line("/// <summary>The rule on one element: load, compute (the rule's scalar body), store.</summary>");
        w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
        w.Open($"private static void Element(int {names.Index}, {viewParams}, Inputs {names.Inputs})");
        foreach (KernelInputSpec input in spec.KernelInputs)
            w.Line(input.TypeName == "bool"
                ? $"bool {input.Name} = {names.Inputs}.{GpuNames.InputField(input.Name)} != 0;"
                : $"{input.TypeName} {input.Name} = {names.Inputs}.{GpuNames.InputField(input.Name)};");
        foreach (ParameterSpec b in buffers)
        {
            // ref views are always loaded: a store writes back the old value where the rule leaves it unassigned.
            if (b.Role == ParameterRole.In && !b.IsRead)
                continue;
            string load = $"{names.ViewOf(b)}[{names.Index}]";
            w.Line($"{t} {b.Name} = {(b.Guard is null ? load : $"{b.Guard} ? {load} : 0")};");
        }
        new BodyEmitter(w, null, t, names.Mask).Emit(IlgpuKnownMethods.Rewrite(spec.Body));
        foreach (ParameterSpec b in buffers.Where(b => b.Role == ParameterRole.Ref && b.IsWritten))
        {
            string store = $"{names.ViewOf(b)}[{names.Index}] = {b.Name};";
            w.Line(b.Guard is null ? store : $"if ({b.Guard}) {store}");
        }
        w.Close();
        w.Line();

        // Loading and launching.
        w.Line("// Compiled and loaded once per accelerator (thread-safe), on first use.");
        w.Line($"private static readonly global::Kernels.Gpu.GpuKernelCache<{kernelDelegate}> s_kernel =");
        w.Line($"    new(typeof({names.ClassName}).GetMethod(nameof(Kernel))!);");
        w.Line($"private static readonly global::Kernels.Gpu.GpuKernelCache<{multiDelegate}> s_multiTensorKernel =");
        w.Line($"    new(typeof({names.ClassName}).GetMethod(nameof(MultiTensorKernel))!);");
        w.Line();
        w.Line($"/// <summary>Launches <see cref=\"Kernel\"/> over <paramref name=\"{names.Length}\"/> elements (arguments already checked).</summary>");
        w.Line($"internal static void Launch({Stream} {names.Stream}, int {names.Length}, {launchViewParams}, Inputs {names.Inputs}) =>");
        w.Line($"    s_kernel.For({names.Stream}.Accelerator)({names.Stream}, {names.Length}, {launchViewArgs}, {names.Inputs});");
        w.Line();
        w.Line($"/// <summary>Launches <see cref=\"MultiTensorKernel\"/> over <paramref name=\"{names.Length}\"/> packed elements (arguments already checked).</summary>");
        w.Line($"internal static void LaunchMultiTensor({Stream} {names.Stream}, int {names.Length}, {launchViewParams}, global::ILGPU.ArrayView<long> {names.Offsets}, global::ILGPU.ArrayView<Inputs> {names.PerTensor}) =>");
        w.Line($"    s_multiTensorKernel.For({names.Stream}.Accelerator)({names.Stream}, {names.Length}, {launchViewArgs}, {names.Offsets}, {names.PerTensor});");
        w.Close();
    }

    /// <summary>Names the emitted code declares, chosen so they never collide with the rule's own names.</summary>
    private sealed class GpuNames : EmittedNames
    {
        private readonly Dictionary<string, string> _views = new();

        public GpuNames(RuleSpec spec) : base(spec.TakenNames.Concat(spec.Parameters.Select(p => Raw(p.Name))))
        {
            Stream = Pick("stream");
            Tensors = Pick("tensors");
            PerTensor = Pick("perTensor");
            PerTensorView = Pick("perTensorView");
            Tensor = Pick("tensor");
            Length = Pick("length");
            Accelerator = Pick("accelerator");
            Index = Pick("index");
            Inputs = Pick("inputs");
            Offsets = Pick("offsets");
            Prepared = Pick("prepared");
            Kernel = new KernelNaming(spec);
            ClassName = Pick(Raw(spec.MethodName) + "Gpu");
            string prefix = spec.Namespace is null ? "global::" : "global::" + string.Join(".", spec.Namespace.Split('.').Select(EmitterCommon.Escape)) + ".";
            ClassPath = prefix + string.Join(".", spec.ContainingTypes.Select(c => EmitterCommon.Escape(c.Name))) + "." + ClassName;
        }

        private readonly Dictionary<string, string> _masks = new();

        /// <summary>A per-element mask of the body, named so it collides with nothing of the rule's.</summary>
        public string Mask(string baseName)
        {
            if (!_masks.TryGetValue(baseName, out string? name))
                _masks[baseName] = name = Pick(baseName);
            return name;
        }

        /// <summary>A field of the Inputs struct: the input's name, except one that would equal the struct's own.</summary>
        public static string InputField(string input) => input == "Inputs" ? "Inputs_" : input;

        public string Prepared { get; }
        public KernelNaming Kernel { get; }

        public string Stream { get; }
        public string Tensors { get; }
        public string PerTensor { get; }
        public string PerTensorView { get; }
        public string Tensor { get; }
        public string Length { get; }
        public string Accelerator { get; }
        public string Index { get; }
        public string Inputs { get; }
        public string Offsets { get; }
        public string ClassName { get; }
        public string ClassPath { get; }

        public string ViewOf(ParameterSpec buffer)
        {
            if (!_views.TryGetValue(buffer.Name, out string? name))
                _views[buffer.Name] = name = Pick(Raw(buffer.Name) + "View");
            return name;
        }
    }
}

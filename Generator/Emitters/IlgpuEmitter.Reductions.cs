using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// The GPU part of a rule that calls <c>Kernels.Reduce</c>: a reduction kernel with one thread per (block, accumulator)
/// of the documented order (each thread runs the reduction pass for the block's elements <c>j ≡ lane (mod 64)</c> in
/// increasing <c>j</c>, adding in double as the CPU does), <c>GpuReductions.Combine</c> (the fixed tree per block, the
/// blocks in order), then the update kernel reading the results from device memory: three launches, no host round
/// trip in between, the CPU's bits.
/// </summary>
internal static partial class IlgpuEmitter
{
    private const string GpuReductions = "global::Kernels.Gpu.GpuReductions";

    private static void EmitReductionKernels(SourceWriter w, RuleSpec spec, GpuNames names)
    {
        string t = spec.ElementType;
        List<ParameterSpec> buffers = Buffers(spec);
        RuleSpec pass = RuleEmitter.ReductionPass(spec);
        var passBuffers = Buffers(pass).Take(buffers.Count).ToList();
        int count = spec.Reductions.Count;
        int maxMask = spec.Reductions.Select((r, i) => r.IsMax ? 1 << i : 0).Sum();
        string viewParams = string.Join(", ", buffers.Select(b => $"{View(spec)} {names.ViewOf(b)}"));
        string launchViewParams = string.Join(", ", buffers.Select(b => $"{View(spec)} {b.Name}"));
        string launchViewArgs = string.Join(", ", buffers.Select(b => b.Name));
        string viewTypes = string.Join(", ", buffers.Select(_ => View(spec)));
        string doubles = "global::ILGPU.ArrayView<double>";
        string partials = names.PickName("partials"), blocks = names.PickName("blocks"), reduced = names.PickName("reduced");
        string block = names.PickName("block"), lane = names.PickName("lane"), start = names.PickName("start"), n = names.PickName("blockLength");
        string j = names.PickName("j"), i = names.PickName("element"), blockTotals = names.PickName("blockTotals");
        string[] acc = spec.Reductions.Select((_, k) => names.PickName("accumulator" + k)).ToArray();

        // The reduction pass.
        w.Line("/// <summary>");
        w.Line("/// The reduction pass: one thread per (block, accumulator) of the fixed order, adding the reduction arguments of");
        w.Line("/// the block's elements j ≡ lane (mod 64), in increasing j, in double; writes nothing of the rule's.");
        w.Line("/// </summary>");
        w.Open($"public static void ReductionKernel({Index1D} {names.Index}, {viewParams}, {doubles} {partials}, int {names.Length}, int {blocks}, Inputs {names.Inputs})");
        w.Line($"int {block} = {names.Index} / {GpuReductions}.Accumulators;");
        w.Line($"int {lane} = {names.Index} - {block} * {GpuReductions}.Accumulators;");
        w.Line($"long {start} = (long){block} * {GpuReductions}.BlockLength;");
        w.Line($"int {n} = {names.Length} - {start} < {GpuReductions}.BlockLength ? (int)({names.Length} - {start}) : {GpuReductions}.BlockLength;");
        EmitInputLocals(w, spec, names, reduced: null);
        for (int k = 0; k < count; k++)
            w.Line($"double {acc[k]} = {(spec.Reductions[k].IsMax ? "double.NegativeInfinity" : "0")};");
        w.Open($"for (int {j} = {lane}; {j} < {n}; {j} += {GpuReductions}.Accumulators)");
        w.Line($"int {i} = (int)({start} + {j});");
        EmitLoads(w, t, passBuffers, names, i);
        foreach (ReductionSpec r in spec.Reductions)
            w.Line($"{t} {r.Output} = 0;");
        new BodyEmitter(w, null, t, names.Mask).Emit(IlgpuKnownMethods.Rewrite(pass.Body));
        for (int k = 0; k < count; k++)
        {
            ReductionSpec r = spec.Reductions[k];
            w.Line(r.IsMax ? $"{acc[k]} = global::Kernels.Gpu.GpuMath.Max({acc[k]}, (double){r.Output});" : $"{acc[k]} += {r.Output};");
        }
        w.Close();
        for (int k = 0; k < count; k++)
            w.Line($"{partials}[((long){k} * {blocks} + {block}) * {GpuReductions}.Accumulators + {lane}] = {acc[k]};");
        w.Close();
        w.Line();

        // The update pass.
        w.Line("/// <summary>The update pass: one thread per element, the rule with each reduction read from <c>reduced</c>.</summary>");
        w.Open($"public static void UpdateKernel({Index1D} {names.Index}, {viewParams}, {doubles} {reduced}, Inputs {names.Inputs})");
        EmitInputLocals(w, spec, names, reduced);
        EmitLoads(w, t, buffers, names, names.Index);
        new BodyEmitter(w, null, t, names.Mask).Emit(IlgpuKnownMethods.Rewrite(spec.Body));
        EmitStores(w, buffers, names);
        w.Close();
        w.Line();

        // Loading and launching.
        string reductionDelegate = $"global::System.Action<{Stream}, {Index1D}, {viewTypes}, {doubles}, int, int, Inputs>";
        string updateDelegate = $"global::System.Action<{Stream}, {Index1D}, {viewTypes}, {doubles}, Inputs>";
        w.Line("// Compiled and loaded once per accelerator (thread-safe), on first use.");
        w.Line($"private static readonly global::Kernels.Gpu.GpuKernelCache<{reductionDelegate}> s_reductionKernel =");
        w.Line($"    new(typeof({names.ClassName}).GetMethod(nameof(ReductionKernel))!);");
        w.Line($"private static readonly global::Kernels.Gpu.GpuKernelCache<{updateDelegate}> s_updateKernel =");
        w.Line($"    new(typeof({names.ClassName}).GetMethod(nameof(UpdateKernel))!);");
        w.Line();
        w.Line($"/// <summary>");
        w.Line($"/// The reduction pass, the combination of its partials and the update pass over <paramref name=\"{names.Length}\"/> elements");
        w.Line("/// (arguments already checked). The partials live in memory this call allocates, so it waits for the stream before returning.");
        w.Line($"/// </summary>");
        w.Open($"internal static void Launch({Stream} {names.Stream}, int {names.Length}, {launchViewParams}, Inputs {names.Inputs})");
        string accelerator = names.Accelerator;
        w.Line($"int {blocks} = {GpuReductions}.Blocks({names.Length});");
        w.Line($"{Accelerator} {accelerator} = {names.Stream}.Accelerator;");
        w.Line($"using var {partials} = {accelerator}.Allocate1D<double>(global::System.Math.Max(1L, (long){count} * {blocks} * {GpuReductions}.Accumulators));");
        w.Line($"using var {blockTotals} = {accelerator}.Allocate1D<double>(global::System.Math.Max(1L, (long){count} * {blocks}));");
        w.Line($"using var {reduced} = {accelerator}.Allocate1D<double>({count});");
        w.Line($"s_reductionKernel.For({accelerator})({names.Stream}, {blocks} * {GpuReductions}.Accumulators, {launchViewArgs}, {partials}.View, {names.Length}, {blocks}, {names.Inputs});");
        w.Line($"{GpuReductions}.Combine({names.Stream}, {partials}.View, {blockTotals}.View, {reduced}.View, {count}, {blocks}, {maxMask});");
        w.Line($"s_updateKernel.For({accelerator})({names.Stream}, {names.Length}, {launchViewArgs}, {reduced}.View, {names.Inputs});");
        w.Line($"{names.Stream}.Synchronize();");
        w.Close();
    }

    /// <summary>
    /// The kernel inputs as locals, read from the <c>Inputs</c> struct; with <paramref name="reduced"/> (a rule's update
    /// pass), a reduction's result from that device view instead, rounded once to the rule's type as on the CPU.
    /// </summary>
    private static void EmitInputLocals(SourceWriter w, RuleSpec spec, GpuNames names, string? reduced)
    {
        List<string> reductions = spec.Reductions.Select(r => r.Input).ToList();
        foreach (KernelInputSpec input in spec.KernelInputs)
        {
            int index = reductions.IndexOf(input.Name);
            if (reduced is not null && index >= 0)
                w.Line($"{input.TypeName} {input.Name} = ({input.TypeName}){reduced}[{index}];");
            else
                w.Line(input.TypeName == "bool"
                    ? $"bool {input.Name} = {names.Inputs}.{GpuNames.InputField(input.Name)} != 0;"
                    : $"{input.TypeName} {input.Name} = {names.Inputs}.{GpuNames.InputField(input.Name)};");
        }
    }

    /// <summary>The element's loads (the buffers <see cref="ParameterSpec.IsLoaded"/> says the body needs).</summary>
    private static void EmitLoads(SourceWriter w, string t, IEnumerable<ParameterSpec> buffers, GpuNames names, string index)
    {
        foreach (ParameterSpec b in buffers.Where(b => b.IsLoaded))
        {
            string load = $"{names.ViewOf(b)}[{index}]";
            w.Line($"{t} {b.Name} = {(b.Guard is null ? load : $"{b.Guard} ? {load} : 0")};");
        }
    }

    /// <summary>The element's stores: every written <c>ref</c> buffer (a guarded one only when its guard holds).</summary>
    private static void EmitStores(SourceWriter w, IEnumerable<ParameterSpec> buffers, GpuNames names)
    {
        foreach (ParameterSpec b in buffers.Where(b => b.Role == ParameterRole.Ref && b.IsWritten))
        {
            string store = $"{names.ViewOf(b)}[{names.Index}] = {b.Name};";
            w.Line(b.Guard is null ? store : $"if ({b.Guard}) {store}");
        }
    }
}

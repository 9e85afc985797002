using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// The GPU storage launchers of a float rule, beside its float launchers: the CPU storage overloads' step over views
/// whose elements are float, bfloat16 or fp16, chosen per call by the same type arguments (<c>TParam</c>, <c>TGrad</c>,
/// <c>TState</c>: see <see cref="EmitterCommon.StorageGroups"/>). One generic kernel serves every combination: each view
/// comes with a storage struct type argument (<c>Kernels.Gpu.GpuStorage.SingleStorage</c>, <c>…BFloat16Storage</c>,
/// <c>…HalfStorage</c>) whose <c>Load</c>/<c>Store</c> the kernel calls on <c>default</c>, so ILGPU compiles each
/// instantiation with the conversions resolved (it cannot compile <c>typeof(T) == typeof(…)</c>). The launcher picks the
/// instantiation on the host (<c>GpuStorage.Instantiate</c>) and caches it per element types and accelerator. An all-float
/// call forwards to the float launcher. The launchers themselves are <see cref="EmitLauncher"/> and
/// <see cref="EmitMultiTensorLauncher"/> with a <see cref="StorageNames"/>: the float launchers' checks, in the same words.
/// A bfloat16 parameter may be rounded stochastically: the kernel calls <c>RandomStream.Bits16</c> for element
/// <c>FirstIndex + index</c> (the packed index in the multi-tensor kernel, as the CPU's multi-tensor overload counts).
/// </summary>
internal static partial class IlgpuEmitter
{
    private const string StorageInterface = "global::Kernels.Gpu.IGpuStorage";
    private const string GpuStorage = "global::Kernels.Gpu.GpuStorage";
    private const string StepChecks = "global::Kernels.CompilerServices.StepChecks";
    private const string BFloat16Type = "global::Kernels.Precision.BFloat16";
    private const string StepOptionsType = "global::Kernels.StepOptions";
    private const string GpuRounding = "global::Kernels.Gpu.GpuRounding";

    /// <summary>Whether the rule gets GPU storage launchers: exactly the rules with CPU storage overloads.</summary>
    private static bool HasStorageLaunchers(RuleSpec spec) => RuleEmitter.HasStorageOverloads(spec);

    // ---- Launchers (EmitLauncher / EmitMultiTensorLauncher with a StorageNames) ---------------

    /// <summary>A view parameter's type: the rule's element type, or the buffer's storage type argument.</summary>
    private static string ViewType(RuleSpec spec, StorageNames? storage, ParameterSpec buffer) => storage is null ? View(spec) : storage.ViewType(buffer);

    private static void EmitStorageSummary(SourceWriter w, RuleSpec spec, StorageNames storage)
    {
        w.Line("/// <summary>");
        w.Line($"/// Runs the update rule <c>{Cref(spec)}</c> over views stored as float, bfloat16 (<see cref=\"{BFloat16Type}\"/>) or fp16");
        w.Line("/// (<see cref=\"global::System.Half\"/>) in one ILGPU kernel launch: each element is widened to float as it is loaded, updated by");
        w.Line("/// the rule in float, and rounded back to its view's type as it is stored (to nearest, ties to even; a bfloat16");
        w.Line($"/// <paramref name=\"{Raw(storage.Parameter.Name)}\"/> stochastically when <see cref=\"{StepOptionsType}.Rounding\"/> asks for it) — the bits of the CPU storage overload with");
        w.Line("/// the same type arguments. With every view float this is the float launcher. Asynchronous: synchronize the stream before");
        w.Line("/// reading results on the host. Pass <c>ArrayView&lt;T&gt;</c>s (<c>buffer.View.AsContiguous()</c>) or give the type arguments:");
        w.Line("/// C# does not infer them through the conversion from <c>ArrayView1D</c>.");
        w.Line("/// </summary>");
        EmitTypeParameterDocs(w, storage);
    }

    private static void EmitTypeParameterDocs(SourceWriter w, StorageNames storage)
    {
        foreach (StorageGroup group in storage.Groups)
            w.Line($"/// <typeparam name=\"{group.TypeParameter}\">How {group.Describe()} stored: <c>float</c>, <see cref=\"{BFloat16Type}\"/> or <see cref=\"global::System.Half\"/>.</typeparam>");
    }

    /// <summary>
    /// The launchers' last parameter, <c>StepOptions options = default</c>, on the float launchers too: C# prefers the
    /// non-generic float launcher for float views only when the two parameter lists are the same (an extra optional
    /// parameter on the generic one makes a float call ambiguous) — the reason the CPU overloads carry the rounding there.
    /// </summary>
    private static IEnumerable<string> OptionsParameter(GpuNames names) =>
        names.Storage is null ? Enumerable.Empty<string>() : new[] { $"{StepOptionsType} {names.Storage.Options} = default" };

    private static void EmitOptionsDoc(SourceWriter w, StorageNames storage, bool tensors)
    {
        string position = tensors ? "packed element <c>j</c> (its position in the concatenation of the tensors)" : "element <c>j</c> of the launch";
        w.Line($"/// <param name=\"{storage.Options}\">Only <see cref=\"{StepOptionsType}.Rounding\"/> applies to a launch (the threading settings are the CPU overloads'): stochastic rounding of <paramref name=\"{Raw(storage.Parameter.Name)}\"/> where it is stored as bfloat16, {position} getting <c>RandomStream.Bits16(Seed, Step, FirstIndex + j)</c> as on the CPU; a float parameter is not rounded; default: round to nearest.</param>");
    }

    private static void EmitNotSupportedDoc(SourceWriter w, StorageNames storage) =>
        w.Line($"/// <exception cref=\"global::System.NotSupportedException\">A type argument is not float, <see cref=\"{BFloat16Type}\"/> or <see cref=\"global::System.Half\"/>, or stochastic rounding is asked for a <see cref=\"global::System.Half\"/> <paramref name=\"{Raw(storage.Parameter.Name)}\"/>. Nothing is launched.</exception>");

    /// <summary>
    /// An all-float call goes to the float launcher (whose code is unchanged; a float parameter is not rounded); any other
    /// type arguments are checked as the CPU storage overloads check them, before anything else.
    /// </summary>
    private static void EmitForwardAllFloat(SourceWriter w, RuleSpec spec, GpuNames names, StorageNames storage, string arguments)
    {
        w.Line("// Every view float: the float launcher (the JIT folds this test in each instantiation).");
        w.Open($"if ({storage.AllFloat})");
        string launcher = names.External ? $"{names.RuleType}.{spec.MethodName}" : spec.MethodName;
        w.Line($"{launcher}({arguments});");
        w.Line("return;");
        w.Close();
        w.Line("// Storage types the kernels can widen and narrow (NotSupportedException otherwise, as on the CPU).");
        foreach (StorageGroup group in storage.Groups)
            w.Line($"{StepChecks}.StorageType<{group.TypeParameter}>(\"{Raw(group.Buffers[0].Name)}\");");
        w.Line($"{StepChecks}.StochasticRounding<{storage.Groups[0].TypeParameter}>({storage.Options}.Rounding, \"{Raw(storage.Parameter.Name)}\");");
    }

    // ---- Kernel class members -----------------------------------------------------------------

    private static void EmitStorageKernels(SourceWriter w, RuleSpec spec, GpuNames names)
    {
        StorageNames storage = names.Storage!;
        List<ParameterSpec> buffers = Buffers(spec);
        string viewParams = string.Join(", ", buffers.Select(b => $"{storage.ViewType(b)} {names.ViewOf(b)}"));
        string viewArgs = string.Join(", ", buffers.Select(b => names.ViewOf(b)));
        string launchViewParams = string.Join(", ", buffers.Select(b => $"{storage.ViewType(b)} {b.Name}"));
        string launchViewArgs = string.Join(", ", buffers.Select(b => b.Name));
        string viewTypes = string.Join(", ", buffers.Select(storage.ViewType));
        string kernelDelegate = $"global::System.Action<{Stream}, {Index1D}, {viewTypes}, Inputs, {GpuRounding}>";
        string multiDelegate = $"global::System.Action<{Stream}, {Index1D}, {viewTypes}, global::ILGPU.ArrayView<long>, global::ILGPU.ArrayView<Inputs>, {GpuRounding}>";
        string kernelTypes = storage.KernelTypeParameterList;

        w.Line("/// <summary>");
        w.Line("/// The storage kernel: one thread per element, each view widened to float as it is loaded and rounded back to its");
        w.Line("/// element type as it is stored, by the storage struct that follows the element type among the type arguments");
        w.Line($"/// (<c>{GpuStorage.Substring("global::".Length)}.SingleStorage</c>, <c>BFloat16Storage</c>, <c>HalfStorage</c>). The launchers instantiate it per element types.");
        w.Line("/// </summary>");
        w.Line($"public static void StorageKernel<{kernelTypes}>({Index1D} {names.Index}, {viewParams}, Inputs {names.Inputs}, {GpuRounding} {storage.Rounding})");
        w.Line($"    {storage.KernelConstraints} =>");
        w.Line($"    StorageElement<{kernelTypes}>({names.Index}, {viewArgs}, {names.Inputs}, {storage.Rounding});");
        w.Line();
        w.Line("/// <summary>The multi-tensor storage kernel: one thread per element of the packed views, with the values of the tensor the element belongs to.</summary>");
        w.Line($"public static void MultiTensorStorageKernel<{kernelTypes}>({Index1D} {names.Index}, {viewParams}, global::ILGPU.ArrayView<long> {names.Offsets}, global::ILGPU.ArrayView<Inputs> {names.PerTensor}, {GpuRounding} {storage.Rounding})");
        w.Line($"    {storage.KernelConstraints} =>");
        w.Line($"    StorageElement<{kernelTypes}>({names.Index}, {viewArgs}, {names.PerTensor}[{Table}.FindTensor({names.Offsets}, {names.Index})], {storage.Rounding});");
        w.Line();

        w.Line("/// <summary>");
        w.Line("/// The rule on one element of storage views: widening loads, the rule's scalar body in float, rounding stores (the");
        w.Line($"/// parameter stochastically under <paramref name=\"{storage.Rounding}\"/>, with the bits of element <c>FirstIndex + {names.Index}</c>).");
        w.Line("/// </summary>");
        w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
        w.Line($"private static void StorageElement<{kernelTypes}>(int {names.Index}, {viewParams}, Inputs {names.Inputs}, {GpuRounding} {storage.Rounding})");
        w.Open($"    {storage.KernelConstraints}");
        EmitInputLocals(w, spec, names, reduced: null);
        foreach (ParameterSpec b in buffers.Where(b => b.IsLoaded))
        {
            string load = $"default({storage.GroupOf(b).StorageParameter}).Load({names.ViewOf(b)}, {names.Index})";
            w.Line($"{spec.ElementType} {b.Name} = {(b.Guard is null ? load : $"{b.Guard} ? {load} : 0")};");
        }
        new BodyEmitter(w, null, spec.ElementType, names.Mask).Emit(IlgpuKnownMethods.Rewrite(spec.Body));
        foreach (ParameterSpec b in buffers.Where(b => b.Role == ParameterRole.Ref && b.IsWritten))
        {
            string storageStruct = $"default({storage.GroupOf(b).StorageParameter})";
            string store = $"{storageStruct}.Store({names.ViewOf(b)}, {names.Index}, {b.Name});";
            if (b != storage.Parameter)
            {
                w.Line(b.Guard is null ? store : $"if ({b.Guard}) {store}");
                continue;
            }
            if (b.Guard is not null)
                w.Open($"if ({b.Guard})");
            w.Line($"if ({storage.Rounding}.IsEnabled)");
            w.Line($"    {storageStruct}.StoreStochastic({names.ViewOf(b)}, {names.Index}, {b.Name}, {storage.Rounding});");
            w.Line("else");
            w.Line("    " + store);
            if (b.Guard is not null)
                w.Close();
        }
        w.Close();
        w.Line();

        w.Line("// One instantiation per element types, compiled and loaded once per accelerator (thread-safe), on first use.");
        w.Line($"private static class {storage.Kernels}<{storage.TypeParameterList}>");
        w.Open($"    {storage.Constraints}");
        w.Line($"internal static readonly global::Kernels.Gpu.GpuKernelCache<{kernelDelegate}> Kernel =");
        w.Line($"    new({GpuStorage}.Instantiate(typeof({names.ClassName}).GetMethod(nameof(StorageKernel))!, {storage.TypeofList}));");
        w.Line($"internal static readonly global::Kernels.Gpu.GpuKernelCache<{multiDelegate}> MultiTensorKernel =");
        w.Line($"    new({GpuStorage}.Instantiate(typeof({names.ClassName}).GetMethod(nameof(MultiTensorStorageKernel))!, {storage.TypeofList}));");
        w.Close();
        w.Line();
        w.Line($"/// <summary>Launches <see cref=\"StorageKernel\"/> over <paramref name=\"{names.Length}\"/> elements (arguments already checked).</summary>");
        w.Line($"internal static void {storage.Launch}<{storage.TypeParameterList}>({Stream} {names.Stream}, int {names.Length}, {launchViewParams}, Inputs {names.Inputs}, {GpuRounding} {storage.Rounding})");
        w.Line($"    {storage.Constraints} =>");
        w.Line($"    {storage.Kernels}<{storage.TypeParameterList}>.Kernel.For({names.Stream}.Accelerator)({names.Stream}, {names.Length}, {launchViewArgs}, {names.Inputs}, {storage.Rounding});");
        w.Line();
        w.Line($"/// <summary>Launches <see cref=\"MultiTensorStorageKernel\"/> over <paramref name=\"{names.Length}\"/> packed elements (arguments already checked).</summary>");
        w.Line($"internal static void {storage.LaunchMultiTensor}<{storage.TypeParameterList}>({Stream} {names.Stream}, int {names.Length}, {launchViewParams}, global::ILGPU.ArrayView<long> {names.Offsets}, global::ILGPU.ArrayView<Inputs> {names.PerTensor}, {GpuRounding} {storage.Rounding})");
        w.Line($"    {storage.Constraints} =>");
        w.Line($"    {storage.Kernels}<{storage.TypeParameterList}>.MultiTensorKernel.For({names.Stream}.Accelerator)({names.Stream}, {names.Length}, {launchViewArgs}, {names.Offsets}, {names.PerTensor}, {storage.Rounding});");
    }

    // ---- Names --------------------------------------------------------------------------------

    /// <summary>The buffers that share one storage type argument, and the kernel's storage struct type argument for them.</summary>
    internal sealed class StorageGroup
    {
        public StorageGroup(string typeParameter, string storageParameter, string role, List<ParameterSpec> buffers)
        {
            TypeParameter = typeParameter;
            StorageParameter = storageParameter;
            Role = role;
            Buffers = buffers;
        }

        /// <summary>The element type argument (<c>TParam</c>…).</summary>
        public string TypeParameter { get; }

        /// <summary>The kernel's storage struct type argument (<c>TParamStorage</c>…).</summary>
        public string StorageParameter { get; }

        private string Role { get; }

        public List<ParameterSpec> Buffers { get; }

        /// <summary>"<paramref name="param"/> is", "the state buffers (…, …) are".</summary>
        public string Describe()
        {
            string list = string.Join(", ", Buffers.Select(b => $"<paramref name=\"{Raw(b.Name)}\"/>"));
            return Buffers.Count == 1 ? $"{list} is" : $"the {Role} buffers ({list}) are";
        }
    }

    /// <summary>The names the storage launchers and kernels declare (picked once per rule, with the other GPU names).</summary>
    internal sealed class StorageNames
    {
        private readonly Dictionary<string, StorageGroup> _groupOf = new();

        public StorageNames(RuleSpec spec, GpuNames names)
        {
            Groups = EmitterCommon.StorageGroups(spec)
                .Select(g => new StorageGroup(names.PickName(g.TypeParameter), names.PickName(g.TypeParameter + "Storage"), g.Role, g.Buffers))
                .ToList();
            foreach (StorageGroup group in Groups)
            {
                foreach (ParameterSpec b in group.Buffers)
                    _groupOf[b.Name] = group;
            }
            Parameter = Groups[0].Buffers[0];
            Kernels = names.PickName("StorageKernels");
            Launch = names.PickName("LaunchStorage");
            LaunchMultiTensor = names.PickName("LaunchStorageMultiTensor");
            Rounding = names.PickName("rounding");
            Options = names.PickName("options");
        }

        /// <summary>The launchers' <c>StepOptions</c> parameter (its <c>Rounding</c> is the caller's rounding).</summary>
        public string Options { get; }

        public List<StorageGroup> Groups { get; }

        /// <summary>The parameter: the buffer of the first type argument, the one stochastic rounding applies to.</summary>
        public ParameterSpec Parameter { get; }

        /// <summary>The kernel's <c>GpuRounding</c> parameter.</summary>
        public string Rounding { get; }

        /// <summary>The nested generic class caching one kernel instantiation per element types.</summary>
        public string Kernels { get; }

        /// <summary>The method launching the storage kernel.</summary>
        public string Launch { get; }

        /// <summary>The method launching the multi-tensor storage kernel.</summary>
        public string LaunchMultiTensor { get; }

        public StorageGroup GroupOf(ParameterSpec buffer) => _groupOf[buffer.Name];

        public string ViewType(ParameterSpec buffer) => $"global::ILGPU.ArrayView<{GroupOf(buffer).TypeParameter}>";

        public string TypeParameterList => string.Join(", ", Groups.Select(g => g.TypeParameter));

        public string Constraints => string.Join(" ", Groups.Select(g => $"where {g.TypeParameter} : unmanaged"));

        public string TypeofList => string.Join(", ", Groups.Select(g => $"typeof({g.TypeParameter})"));

        /// <summary>The test that every view is float (a constant in each instantiation).</summary>
        public string AllFloat => string.Join(" && ", Groups.Select(g => $"typeof({g.TypeParameter}) == typeof(float)"));

        /// <summary>The kernel's type parameters: each element type followed by its storage struct.</summary>
        public string KernelTypeParameterList => string.Join(", ", Groups.SelectMany(g => new[] { g.TypeParameter, g.StorageParameter }));

        public string KernelConstraints => string.Join(" ", Groups.Select(g =>
            $"where {g.TypeParameter} : unmanaged where {g.StorageParameter} : struct, {StorageInterface}<{g.TypeParameter}>"));
    }
}

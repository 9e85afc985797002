using System;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Frontend;
using ILGPU.Frontend.Intrinsic;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Kernels.Gpu;

/// <summary>
/// Compiles and loads the generated kernels. Two things differ from ILGPU's own loaders:
/// <list type="bullet">
/// <item><see cref="GpuMath"/>'s methods are remapped to their <see cref="GpuMath.Device"/> forms before the first compilation.</item>
/// <item>Floating-point <c>add</c>/<c>sub</c>/<c>mul</c> are compiled with an explicit round-to-nearest
/// (<c>.rn</c>) in PTX and with <c>FP_CONTRACT OFF</c> in OpenCL, so the GPU's compiler cannot fuse
/// <c>a * b + c</c> into an FMA the rule did not write: the kernel rounds exactly where the CPU does.</item>
/// </list>
/// </summary>
public static class GpuKernels
{
    private static readonly object s_remapLock = new();
    private static bool s_remapped;

    /// <summary>Registers <see cref="GpuMath"/>'s device forms with ILGPU (once per process; idempotent).</summary>
    public static void RegisterMathRemappings()
    {
        lock (s_remapLock)
        {
            if (s_remapped)
                return;
            foreach (MethodInfo host in typeof(GpuMath).GetMethods(BindingFlags.Public | BindingFlags.Static))
            {
                Type[] parameters = Array.ConvertAll(host.GetParameters(), p => p.ParameterType);
                MethodInfo device = typeof(GpuMath.Device).GetMethod(host.Name, BindingFlags.Public | BindingFlags.Static, null, parameters, null)
                    ?? throw new InvalidOperationException($"GpuMath.Device has no form of {host}.");
                RemappedIntrinsics.AddRemapping(host, (ref InvocationContext context) => context.Method = device);
            }
            s_remapped = true;
        }
    }

    /// <summary>Compiles <paramref name="kernel"/> (an implicitly grouped kernel) for <paramref name="accelerator"/>, loads it, and returns its launcher.</summary>
    /// <typeparam name="TDelegate"><c>Action&lt;AcceleratorStream, Index1D, …the kernel's other parameters…&gt;</c>.</typeparam>
    public static TDelegate Load<TDelegate>(Accelerator accelerator, MethodInfo kernel) where TDelegate : Delegate
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(kernel);
        RegisterMathRemappings();
        CompiledKernel compiled = accelerator.GetBackend().Compile(EntryPointDescription.FromImplicitlyGroupedKernel(kernel), KernelSpecialization.Empty);
        Kernel loaded = accelerator.LoadAutoGroupedKernel(WithoutContraction(compiled));
        return loaded.CreateLauncherDelegate<TDelegate>();
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> to PTX for <paramref name="architecture"/> and returns the kernel object
    /// <see cref="Load"/> would hand a CUDA device of that architecture (strict PTX); needs no GPU (used by the
    /// tests and for inspection).
    /// </summary>
    /// <exception cref="NotSupportedException">This ILGPU version hides what the strict form needs (<see cref="CanLoadStrictPtx"/> is false).</exception>
    public static PTXCompiledKernel CompileStrictPtxKernel(Context context, MethodInfo kernel, CudaArchitecture architecture, CudaInstructionSet instructionSet)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(kernel);
        if (!CanLoadStrictPtx)
            throw new NotSupportedException("This ILGPU version does not expose the PTX kernel constructor the strict loader needs.");
        RegisterMathRemappings();
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
        CompiledKernel compiled = backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(kernel), KernelSpecialization.Empty);
        return (PTXCompiledKernel)WithoutContraction(compiled);
    }

    /// <summary>The PTX of <see cref="CompileStrictPtxKernel"/>.</summary>
    public static string CompileToPtx(Context context, MethodInfo kernel, CudaArchitecture architecture, CudaInstructionSet instructionSet) =>
        CompileStrictPtxKernel(context, kernel, architecture, instructionSet).PTXAssembly;

    /// <summary>Adds an explicit round-to-nearest to every f32/f64 <c>add</c>, <c>sub</c> and <c>mul</c>: PTX never contracts those into an FMA.</summary>
    public static string StrictPtx(string ptx) => s_contractible.Replace(ptx, "$1.rn.$2");

    private static readonly Regex s_contractible = new(@"(?<![\w.])(add|sub|mul)\.(f32|f64)(?![\w.])", RegexOptions.CultureInvariant);

    // ILGPU 1.5.3 exposes no public way to build a PTX kernel from edited PTX: its constructor and the
    // entry point are internal. Both are looked up once; the tests pin that they are found.
    private static readonly ConstructorInfo? s_ptxKernelConstructor = typeof(PTXCompiledKernel).GetConstructor(
        BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public, null,
        new[] { typeof(Context), typeof(EntryPoint), typeof(CompiledKernel.KernelInfo), typeof(string) }, null);

    private static readonly PropertyInfo? s_entryPoint = typeof(CompiledKernel).GetProperty(
        "EntryPoint", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);

    /// <summary>Whether <see cref="Load"/> can hand CUDA the strict PTX (false only if a future ILGPU renames its internals).</summary>
    public static bool CanLoadStrictPtx => s_ptxKernelConstructor is not null && s_entryPoint is not null;

    private static CompiledKernel WithoutContraction(CompiledKernel compiled)
    {
        // The CPU accelerator runs kernels as .NET code, which never contracts. OpenCL kernels are left as
        // ILGPU writes them (their C source may be contracted by the OpenCL compiler; see docs/Gpu.md).
        if (compiled is not PTXCompiledKernel ptx || !CanLoadStrictPtx)
            return compiled;
        object entryPoint = s_entryPoint!.GetValue(ptx)!;
        return (CompiledKernel)s_ptxKernelConstructor!.Invoke(new[] { ptx.Context, entryPoint, ptx.Info, StrictPtx(ptx.PTXAssembly) });
    }
}

/// <summary>
/// One kernel, compiled and loaded at most once per accelerator, thread-safely; entries go when their
/// accelerator is collected. Generated launchers keep one per kernel.
/// </summary>
/// <typeparam name="TDelegate">The launcher delegate type.</typeparam>
public sealed class GpuKernelCache<TDelegate> where TDelegate : Delegate
{
    private readonly MethodInfo _kernel;
    private readonly ConditionalWeakTable<Accelerator, Lazy<TDelegate>> _loaded = new();

    /// <summary>Creates an empty cache for <paramref name="kernel"/>.</summary>
    public GpuKernelCache(MethodInfo kernel) => _kernel = kernel ?? throw new ArgumentNullException(nameof(kernel));

    /// <summary>The kernel's launcher on <paramref name="accelerator"/>, compiled on first use.</summary>
    public TDelegate For(Accelerator accelerator)
    {
        // Lazy (ExecutionAndPublication): concurrent first calls compile once and share the result.
        return _loaded.GetValue(accelerator, a => new Lazy<TDelegate>(() => GpuKernels.Load<TDelegate>(a, _kernel))).Value;
    }
}

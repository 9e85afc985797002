using System;
using System.Runtime.InteropServices;
using Kernels.Matrices;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>
/// OpenBLAS's own thread count, for the library <see cref="Gemm"/> loaded. <c>Gemm</c> has no setting of its own for
/// it (its OpenBLAS calls use OpenBLAS's thread pool as configured: <c>OPENBLAS_NUM_THREADS</c>, else every core), so
/// the benchmarks call OpenBLAS's exported <c>openblas_set_num_threads</c> / <c>openblas_get_num_threads</c> on the
/// same library (loading a library already loaded returns the same handle: one thread pool).
/// </summary>
public static unsafe class OpenBlasThreads
{
    private static readonly Lazy<(IntPtr Set, IntPtr Get, IntPtr CoreName, IntPtr Config)> s_exports = new(Load);

    /// <summary>Whether the thread count can be read and set (OpenBLAS loaded and exporting both functions).</summary>
    public static bool IsAvailable => s_exports.Value.Set != IntPtr.Zero && s_exports.Value.Get != IntPtr.Zero;

    /// <summary>OpenBLAS's current thread count (<c>openblas_get_num_threads()</c>), or -1 when not available.</summary>
    public static int Get() => IsAvailable ? ((delegate* unmanaged<int>)s_exports.Value.Get)() : -1;

    /// <summary>Sets OpenBLAS's thread count and checks it took; throws when OpenBLAS is not available.</summary>
    public static void Set(int threads)
    {
        if (!IsAvailable)
            throw new NotSupportedException("OpenBLAS (openblas_set_num_threads) is not loaded in this process.");
        ((delegate* unmanaged<int, void>)s_exports.Value.Set)(threads);
        if (Get() != threads)
            throw new InvalidOperationException($"openblas_set_num_threads({threads}) left openblas_get_num_threads() = {Get()}.");
    }

    /// <summary>The kernel family OpenBLAS chose for this CPU (<c>openblas_get_corename()</c>) and its build configuration, for reports.</summary>
    public static string Describe()
    {
        var exports = s_exports.Value;
        if (exports.CoreName == IntPtr.Zero)
            return "OpenBLAS not loaded";
        string? core = Marshal.PtrToStringAnsi((IntPtr)((delegate* unmanaged<byte*>)exports.CoreName)());
        string? config = exports.Config == IntPtr.Zero ? null : Marshal.PtrToStringAnsi((IntPtr)((delegate* unmanaged<byte*>)exports.Config)());
        return $"{Gemm.OpenBlasLibrary}: core {core}, config '{config?.Trim()}'";
    }

    private static (IntPtr, IntPtr, IntPtr, IntPtr) Load()
    {
        // Loading through Gemm first: the same name, so the same handle as Gemm's cblas_sgemm.
        if (!Gemm.IsOpenBlasAvailable || Gemm.OpenBlasLibrary is not string name || !NativeLibrary.TryLoad(name, out IntPtr handle))
            return default;
        return (Export(handle, "openblas_set_num_threads"), Export(handle, "openblas_get_num_threads"),
                Export(handle, "openblas_get_corename"), Export(handle, "openblas_get_config"));
    }

    private static IntPtr Export(IntPtr handle, string name) => NativeLibrary.TryGetExport(handle, name, out IntPtr address) ? address : IntPtr.Zero;
}

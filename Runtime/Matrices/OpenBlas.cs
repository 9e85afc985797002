using System;
using System.Runtime.InteropServices;

namespace Kernels.Matrices;

/// <summary>
/// OpenBLAS's <c>cblas_sgemm</c>, loaded once, on first use, with <see cref="NativeLibrary.TryLoad(string, out IntPtr)"/>:
/// the library is optional, so nothing is declared with <c>DllImport</c> and a process without it never fails to load.
/// </summary>
internal static unsafe class OpenBlas
{
    // CBLAS enumerations (cblas.h).
    private const int RowMajor = 101;
    private const int NoTrans = 111;
    private const int Trans = 112;

    /// <summary>Names tried in order: the soname Debian/Ubuntu install, the development link, then other platforms' names.</summary>
    private static readonly string[] s_candidates =
    {
        "libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
        "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
        "libopenblas.so",
        "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
        "/usr/local/opt/openblas/lib/libopenblas.dylib",
        "libopenblas.dylib",
        "libopenblas.dll",
        "openblas.dll",
    };

    private static readonly Lazy<Loaded?> s_loaded = new(Load);

    private sealed class Loaded
    {
        public required string Name { get; init; }

        // void cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) with 32-bit blasint.
        public required delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm { get; init; }
    }

    public static bool IsAvailable => s_loaded.Value is not null;

    public static string? LibraryName => s_loaded.Value?.Name;

    public static void Sgemm(bool transposeA, bool transposeB, int m, int n, int k,
        float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc)
    {
        Loaded loaded = s_loaded.Value ?? throw new InvalidOperationException("OpenBLAS is not loaded.");
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            loaded.Sgemm(RowMajor, transposeA ? Trans : NoTrans, transposeB ? Trans : NoTrans,
                m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    private static Loaded? Load()
    {
        foreach (string name in s_candidates)
        {
            if (!NativeLibrary.TryLoad(name, typeof(OpenBlas).Assembly, DllImportSearchPath.SafeDirectories, out IntPtr handle)
                && !NativeLibrary.TryLoad(name, out handle))
                continue;
            if (!NativeLibrary.TryGetExport(handle, "cblas_sgemm", out IntPtr sgemm) || IsIlp64(handle))
            {
                NativeLibrary.Free(handle);
                continue;
            }
            return new Loaded
            {
                Name = name,
                Sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm,
            };
        }
        return null;
    }

    /// <summary>
    /// Whether the library was built with 64-bit integers (<c>USE64BITINT</c> in <c>openblas_get_config()</c>): its
    /// <c>cblas_sgemm</c> then takes 64-bit dimensions and cannot be called with this signature.
    /// </summary>
    private static bool IsIlp64(IntPtr handle)
    {
        if (!NativeLibrary.TryGetExport(handle, "openblas_get_config", out IntPtr getConfig))
            return false;
        var config = (delegate* unmanaged<byte*>)getConfig;
        string? text = Marshal.PtrToStringAnsi((IntPtr)config());
        return text is not null && text.Contains("USE64BITINT", StringComparison.Ordinal);
    }
}

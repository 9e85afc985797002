using System.Runtime.CompilerServices;

namespace Kernels.Tests.Parity.Harness;

internal static class TorchSetup
{
    /// <summary>
    /// One libtorch thread: the element-wise kernels give the same bits on any thread count, and on a small, busy
    /// machine the OpenMP workers that libtorch's math library wakes for each operation spin against everything
    /// else (the suite ran about four times slower with them).
    /// </summary>
    [ModuleInitializer]
    internal static void SingleThreaded() => TorchSharp.torch.set_num_threads(1);
}

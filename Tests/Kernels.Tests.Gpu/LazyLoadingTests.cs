using System;
using System.Diagnostics;
using System.IO;
using Xunit;

namespace Kernels.Tests.Gpu;

/// <summary>
/// Users who never touch a GPU do not pay for it: a fresh process that runs CPU steps of several built-ins
/// (single- and multi-threaded) never loads ILGPU.dll. The same program touching one GPU type afterwards does
/// load it (the control that shows the probe can see it).
/// </summary>
public sealed class LazyLoadingTests
{
    [Fact]
    public void Cpu_steps_do_not_load_ilgpu() => Assert.Equal("ILGPU not loaded", RunProbe(""));

    [Fact]
    public void Touching_the_gpu_part_loads_ilgpu() => Assert.Equal("ILGPU loaded", RunProbe("--gpu"));

    private static string RunProbe(string arguments)
    {
        string binDirectory = new DirectoryInfo(AppContext.BaseDirectory).Name; // net10.0
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // Debug / Release
        string probe = Path.Combine(PtxTests.RepositoryRoot(), "Tests", "Kernels.Tests.Gpu", "CpuOnlyProbe", "bin", configuration, binDirectory, "CpuOnlyProbe.dll");
        Assert.True(File.Exists(probe), "probe not built: " + probe);
        var start = new ProcessStartInfo("dotnet", $"exec \"{probe}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "probe timed out");
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(process.ExitCode == 0, $"probe exit code {process.ExitCode}: {output} {error}");
        return lines[^1];
    }
}

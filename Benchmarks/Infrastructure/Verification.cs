using System;
using Kernels.Benchmarks.Optimizers;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary><c>--verify</c>: every column against the naive loop, before trusting any timing.</summary>
public static class Verification
{
    /// <summary>Runs the checks; 0 when all pass.</summary>
    public static int Run()
    {
        OptimizerBenchmark[] suites = [new AdamWBenchmark(), new SgdMomentumBenchmark(), new LionBenchmark(), new AdagradBenchmark(), new RMSpropBenchmark()];
        int failures = 0;
        foreach (var suite in suites)
        {
            // An odd size below the parallel threshold (every tail), then one above it split across the cores.
            foreach (var (size, cores) in new[] { (100_003, Cores.One), ((1 << 19) + 5, Cores.All) })
            {
                foreach (string line in suite.Verify(size, cores))
                {
                    Console.WriteLine(line);
                    if (line.Contains(" FAIL ", StringComparison.Ordinal))
                        failures++;
                }
            }
        }
        Console.WriteLine(failures == 0 ? "verify: every column agrees with the naive loop" : $"verify: {failures} column(s) disagree");
        return failures == 0 ? 0 : 1;
    }
}

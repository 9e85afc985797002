using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Kernels.Optimizers;
using Kernels.Precision;
using Half = System.Half;

namespace Kernels.Benchmarks.Gpu;

/// <summary>
/// The storage rows of <c>--gpu-check</c>: the GPU storage launchers (<c>Step&lt;TParam, TGrad, TState&gt;(stream,
/// ArrayView&lt;…&gt; …)</c>, buffers held as bfloat16 or fp16, stochastic rounding of a bfloat16 parameter) against the CPU
/// storage span overload with the same type arguments, on the same data, after every step; the same NaN allowance.
/// </summary>
public static partial class GpuCheck
{
    private delegate void CpuStorageStep<TP, TG, TS>(Span<TP> param, ReadOnlySpan<TG> grad, TS[][] state, int step, StochasticRounding rounding);

    private delegate void GpuStorageStep<TP, TG, TS>(AcceleratorStream stream, ArrayView<TP> param, ArrayView<TG> grad, ArrayView<TS>[] state, int step, StochasticRounding rounding)
        where TP : unmanaged where TG : unmanaged where TS : unmanaged;

    private static List<StorageOutcome> StorageChecks(Accelerator accelerator, int[] lengths, int steps, int seed)
    {
        var rows = new List<StorageOutcome>
        {
            AdamWRow<BFloat16, BFloat16, float>(accelerator, lengths, steps, seed, stochastic: false),
            AdamWRow<BFloat16, BFloat16, float>(accelerator, lengths, steps, seed, stochastic: true),
            AdamWRow<BFloat16, BFloat16, BFloat16>(accelerator, lengths, steps, seed, stochastic: true),
            AdamWRow<Half, Half, float>(accelerator, lengths, steps, seed, stochastic: false),
            AdamWRow<float, BFloat16, Half>(accelerator, lengths, steps, seed, stochastic: false),
            Row<BFloat16, BFloat16, BFloat16>(accelerator, "SGD.Step (momentum, Nesterov)", 1, lengths, steps, seed, stochastic: true,
                (p, g, s, t, r) => SGD.Step(p, g, s[0].AsSpan(), 0.01, t, momentum: 0.9, weightDecay: 1e-2, nesterov: true, options: new() { Rounding = r }),
                (stream, p, g, s, t, r) => SGD.Step(stream, p, g, s[0], 0.01, t, momentum: 0.9, weightDecay: 1e-2, nesterov: true, options: new() { Rounding = r })),
            Row<Half, Half, Half>(accelerator, "SGD.Step (momentum, Nesterov)", 1, lengths, steps, seed, stochastic: false,
                (p, g, s, t, r) => SGD.Step(p, g, s[0].AsSpan(), 0.01, t, momentum: 0.9, weightDecay: 1e-2, nesterov: true, options: new() { Rounding = r }),
                (stream, p, g, s, t, r) => SGD.Step(stream, p, g, s[0], 0.01, t, momentum: 0.9, weightDecay: 1e-2, nesterov: true, options: new() { Rounding = r })),
            Row<BFloat16, BFloat16, float>(accelerator, "Lion.Step (weight decay)", 1, lengths, steps, seed, stochastic: true,
                (p, g, s, t, r) => Lion.Step(p, g, s[0].AsSpan(), lr: 1e-3, weightDecay: 0.1, options: new() { Rounding = r }),
                (stream, p, g, s, t, r) => Lion.Step(stream, p, g, s[0], lr: 1e-3, weightDecay: 0.1, options: new() { Rounding = r })),
            BlockwiseRow(accelerator, lengths, steps, seed),
        };

        Console.WriteLine();
        Console.WriteLine("Storage launchers (views held as bfloat16/fp16, computed in float) against the CPU storage overload with the same type arguments:");
        Console.WriteLine();
        Console.WriteLine("| Rule | Param / grad / state | Rounding of the parameter | Launches | Values compared | NaN sign/payload differences (allowed) | Result | Seconds |");
        Console.WriteLine("| --- | --- | --- | ---: | ---: | ---: | --- | ---: |");
        foreach (StorageOutcome o in rows)
        {
            string result = o.Error is not null ? "ERROR" : o.Mismatches == 0 ? "bit-identical" : $"MISMATCH ({o.Mismatches:N0})";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {o.Rule} | {o.Types} | {o.Rounding} | {o.Launches} | {o.Compared:N0} | {o.NaNDifferences:N0} | {result} | {o.Seconds:F1} |"));
        }
        return rows;
    }

    private static StorageOutcome AdamWRow<TP, TG, TS>(Accelerator accelerator, int[] lengths, int steps, int seed, bool stochastic)
        where TP : unmanaged where TG : unmanaged where TS : unmanaged =>
        Row<TP, TG, TS>(accelerator, "AdamW.Step (amsgrad)", 3, lengths, steps, seed, stochastic,
            (p, g, s, t, r) => AdamW.Step(p, g, s[0].AsSpan(), s[1].AsSpan(), s[2].AsSpan(), t, lr: 1e-2, weightDecay: 0.05, amsgrad: true, options: new() { Rounding = r }),
            (stream, p, g, s, t, r) => AdamW.Step(stream, p, g, s[0], s[1], s[2], t, lr: 1e-2, weightDecay: 0.05, amsgrad: true, options: new() { Rounding = r }));

    private static StorageOutcome Row<TP, TG, TS>(Accelerator accelerator, string rule, int stateCount, int[] lengths, int steps, int seed, bool stochastic,
        CpuStorageStep<TP, TG, TS> cpu, GpuStorageStep<TP, TG, TS> gpu)
        where TP : unmanaged where TG : unmanaged where TS : unmanaged
    {
        var outcome = new StorageOutcome(rule, $"{TypeName<TP>()} / {TypeName<TG>()} / {TypeName<TS>()}", stochastic ? "stochastic (seed, step)" : "nearest");
        var watch = Stopwatch.StartNew();
        int launches = 0;
        try
        {
            foreach (int length in lengths)
            {
                var random = new Random(seed + length);
                TP[] param = StorageValues<TP>(random, length, nonNegative: false);
                TG[] grad = StorageValues<TG>(random, length, nonNegative: false);
                TS[][] state = Enumerable.Range(0, stateCount).Select(_ => StorageValues<TS>(random, length, nonNegative: true)).ToArray();
                using var p = accelerator.Allocate1D(param);
                using var g = accelerator.Allocate1D(grad);
                var s = state.Select(a => accelerator.Allocate1D(a)).ToArray();
                try
                {
                    for (int t = 1; t <= steps; t++)
                    {
                        StochasticRounding rounding = stochastic ? new StochasticRounding((ulong)seed, (ulong)t) : default;
                        cpu(param, grad, state, t, rounding);
                        gpu(accelerator.DefaultStream, p.View.AsContiguous(), g.View.AsContiguous(), s.Select(b => b.View.AsContiguous()).ToArray(), t, rounding);
                        accelerator.Synchronize();
                        launches++;
                        string where = $"length {length}, step {t}";
                        CompareStorage(param, p.GetAsArray1D(), "param", where, outcome);
                        CompareStorage(grad, g.GetAsArray1D(), "grad", where, outcome);
                        for (int k = 0; k < stateCount; k++)
                            CompareStorage(state[k], s[k].GetAsArray1D(), $"state {k}", where, outcome);
                    }
                }
                finally
                {
                    foreach (var b in s)
                        b.Dispose();
                }
            }
        }
        catch (Exception e)
        {
            outcome.Error = $"{e.GetType().Name}: {e.Message}";
        }
        outcome.Launches = launches;
        outcome.Seconds = watch.Elapsed.TotalSeconds;
        return outcome;
    }

    private static string TypeName<T>() => typeof(T) == typeof(float) ? "fp32" : typeof(T) == typeof(BFloat16) ? "bf16" : "fp16";

    private static readonly float[] s_storageSpecials =
    {
        float.NaN, BitConverter.UInt32BitsToSingle(0x7FC1_2345), BitConverter.UInt32BitsToSingle(0xFF80_0001),
        float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e-40f, -1.4e-45f, 3e-6f, -6e-8f, 2.98e-8f,
        65519f, 65520f, -70000f, 3.4e38f, float.MaxValue,
    };

    /// <summary>Parameter and gradient in [-1, 1], state small and non-negative; about one value in 32 special (NaN, ±∞, subnormals, fp16/bf16 overflow).</summary>
    private static T[] StorageValues<T>(Random random, int length, bool nonNegative) where T : unmanaged
    {
        var values = new T[length];
        for (int i = 0; i < length; i++)
        {
            double v = random.NextDouble() * 2 - 1;
            float f = (float)(nonNegative ? Math.Abs(v) * 0.1 + 1e-3 : v);
            if (random.Next(32) == 0)
                f = s_storageSpecials[random.Next(s_storageSpecials.Length)];
            values[i] = typeof(T) == typeof(float) ? (T)(object)f : typeof(T) == typeof(BFloat16) ? (T)(object)(BFloat16)f : (T)(object)(Half)f;
        }
        return values;
    }

    private static void CompareStorage<T>(T[] expected, T[] actual, string buffer, string where, StorageOutcome outcome) where T : unmanaged
    {
        outcome.Compared += expected.Length;
        if (MemoryMarshal.AsBytes(expected.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(actual.AsSpan())))
            return;
        for (int i = 0; i < expected.Length; i++)
        {
            (ulong e, bool eNaN) = BitsAndNaN(expected[i]);
            (ulong a, bool aNaN) = BitsAndNaN(actual[i]);
            if (e == a)
                continue;
            if (eNaN && aNaN)
            {
                outcome.NaNDifferences++;
                continue;
            }
            outcome.Mismatches++;
            if (outcome.Examples.Count < 8)
                outcome.Examples.Add(string.Create(CultureInfo.InvariantCulture, $"{where}: buffer '{buffer}', element {i}: span overload {expected[i]} (0x{e:X}), kernel {actual[i]} (0x{a:X})"));
        }
    }

    private static (ulong Bits, bool NaN) BitsAndNaN<T>(T value) => value switch
    {
        float f => (BitConverter.SingleToUInt32Bits(f), float.IsNaN(f)),
        BFloat16 b => (b.Bits, BFloat16.IsNaN(b)),
        Half h => (BitConverter.HalfToUInt16Bits(h), Half.IsNaN(h)),
        _ => throw new NotSupportedException(typeof(T).ToString()),
    };

    /// <summary>What one storage row found.</summary>
    private sealed class StorageOutcome(string rule, string types, string rounding)
    {
        public string Rule { get; } = rule;
        public string Types { get; } = types;
        public string Rounding { get; } = rounding;
        public int Launches { get; set; }
        public long Compared { get; set; }
        public long NaNDifferences { get; set; }
        public long Mismatches { get; set; }
        public string? Error { get; set; }
        public double Seconds { get; set; }
        public List<string> Examples { get; } = new();
        public bool Passed => Error is null && Mismatches == 0;
    }
}

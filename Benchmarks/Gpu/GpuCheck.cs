using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.InteropServices;
using System.Text;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Kernels.CompilerServices;
using Kernels.Gpu;

namespace Kernels.Benchmarks.Gpu;

/// <summary>
/// <c>--gpu-check</c>: every built-in optimizer's GPU kernels on a CUDA device (or, with <c>--cpu-accelerator</c>, on
/// ILGPU's CPU accelerator) against its CPU span overload, on the same random buffers, bit for bit. The same idea as
/// <c>Tests/Kernels.Tests.Gpu</c> (rules found by reflection from the <c>[assembly: RulePlan]</c> attributes of
/// Kernels.dll, so a built-in added later is checked without touching this file), packaged so that a machine with a
/// GPU but no .NET SDK can run it from the published single file (docs/Gpu.md, "A GPU run in one command").
/// <para>
/// What is compared: after every step, every element of every buffer (the ones the configuration writes and the
/// ones it must leave alone), as raw bits — signed zeros, subnormals and infinities included. One allowance: where
/// the span overload's result is a NaN, the kernel's must be a NaN, of any sign and payload. PTX arithmetic returns
/// the canonical NaN where x86 propagates an input's payload, and even on the CPU the span overload's vector code
/// may pick the other operand's NaN when two meet (README, "Semantics and numerics"; Tests/Kernels.Tests'
/// <c>BitExact</c> makes the same allowance). No other tolerance: docs/Gpu.md claims bit identity on CUDA (no FMA
/// contraction, correctly rounded division and square root), and this is where that claim is measured.
/// </para>
/// Exit code: 0 all identical; 1 a mismatch or an error; 2 no CUDA device (nothing checked) or a bad option.
/// </summary>
public static partial class GpuCheck
{
    public static int Run(string[] args)
    {
        bool emulate = args.Contains("--cpu-accelerator");
        int steps = (int)Option(args, "--steps", 3);
        int seed = (int)Option(args, "--seed", 20261130);
        int deviceIndex = (int)Option(args, "--device", 0);
        // Odd lengths (no launch is a multiple of a warp or a group); on a GPU one of over a million elements too,
        // so that many thread blocks and a partial last block run. The CPU accelerator emulates every thread: small.
        int[] lengths = LengthsOption(args) ?? (emulate ? new[] { 1, 33, 3001 } : new[] { 1, 33, 3001, 1_048_583 });
        // The multi-tensor launch: packed tensors with an empty one and a one-element one among them.
        long[] tensors = emulate ? new long[] { 5, 0, 1000, 1, 2049, 64 } : new long[] { 5, 0, 1000, 1, 2049, 64, 262_147 };

        using Context context = Context.Create(builder => (emulate ? builder.CPU() : builder.Cuda()).Optimize(OptimizationLevel.O2));
        Accelerator accelerator;
        if (emulate)
        {
            accelerator = context.CreateCPUAccelerator(0);
        }
        else
        {
            var cuda = context.GetCudaDevices();
            if (cuda.Count == 0)
            {
                Console.WriteLine("GPU check: no CUDA device found (ILGPU sees none: no NVIDIA GPU or driver on this machine). Nothing checked.");
                Console.WriteLine("Run it on a machine with a CUDA GPU; '--gpu-check --cpu-accelerator' runs the same checks on ILGPU's CPU accelerator.");
                return 2;
            }
            if (deviceIndex >= cuda.Count)
            {
                Console.Error.WriteLine($"--device {deviceIndex}: only {cuda.Count} CUDA device(s).");
                return 2;
            }
            accelerator = cuda[deviceIndex].CreateCudaAccelerator(context);
        }

        using (accelerator)
        {
            IReadOnlyList<CheckedRule> rules = CheckedRule.BuiltIns();
            int planned = typeof(Kernels.Optimizers.AdamW).Assembly.GetCustomAttributes<RulePlanAttribute>().Count();
            Header(accelerator, context, rules.Count, planned, steps, seed, lengths, tensors);

            var outcomes = new List<Outcome>();
            var total = Stopwatch.StartNew();
            foreach (CheckedRule rule in rules)
            {
                var outcome = new Outcome(rule);
                var watch = Stopwatch.StartNew();
                try
                {
                    SingleLaunch(accelerator, rule, lengths, steps, seed, outcome);
                    MultiTensor(accelerator, rule, tensors, steps, seed, outcome);
                }
                catch (Exception e)
                {
                    // A kernel that does not compile or load on this device is a failure of the check, not of the program.
                    Exception inner = e is TargetInvocationException { InnerException: { } i } ? i : e;
                    outcome.Error = $"{inner.GetType().Name}: {inner.Message}";
                }
                outcome.Seconds = watch.Elapsed.TotalSeconds;
                outcomes.Add(outcome);
            }

            Table(outcomes);
            List<StorageOutcome> storage = StorageChecks(accelerator, lengths, steps, seed);
            int failed = outcomes.Count(o => !o.Passed) + storage.Count(o => !o.Passed);
            foreach (Outcome o in outcomes.Where(o => !o.Passed))
            {
                Console.WriteLine();
                Console.WriteLine($"{o.Rule.Name}: {(o.Error is not null ? "error: " + o.Error : $"{o.Mismatches:N0} mismatching values; the first ones:")}");
                foreach (string line in o.Examples)
                    Console.WriteLine("  " + line);
            }
            foreach (StorageOutcome o in storage.Where(o => !o.Passed))
            {
                Console.WriteLine();
                Console.WriteLine($"{o.Rule} ({o.Types}, {o.Rounding}): {(o.Error is not null ? "error: " + o.Error : $"{o.Mismatches:N0} mismatching values; the first ones:")}");
                foreach (string line in o.Examples)
                    Console.WriteLine("  " + line);
            }
            Console.WriteLine();
            Console.WriteLine(failed == 0 && planned == rules.Count
                ? $"GPU check passed: {rules.Count} rules and {storage.Count} storage rows, every value bit-identical to the span overload (NaN payloads aside), in {total.Elapsed.TotalSeconds:F1} s."
                : $"GPU check FAILED: {failed} of {rules.Count} rules and {storage.Count} storage rows differ or did not run{(planned != rules.Count ? $"; {planned} rules planned but {rules.Count} found" : "")}.");
            return failed == 0 && planned == rules.Count ? 0 : 1;
        }
    }

    private static void Header(Accelerator accelerator, Context context, int rules, int planned, int steps, int seed, int[] lengths, long[] tensors)
    {
        string version = typeof(GpuCheck).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        Console.WriteLine($"// Kernels GPU check, build {version}");
        string device = accelerator is CudaAccelerator cuda
            ? $"{cuda.Name} (CUDA, {cuda.Architecture}, driver {cuda.DriverVersion}, {cuda.MemorySize / (1L << 30)} GiB)"
            : $"{accelerator.Name} ({accelerator.AcceleratorType}: ILGPU's CPU accelerator runs the kernels as .NET code; a test of this checker, not of a GPU)";
        Console.WriteLine($"// Device: {device}; ILGPU {context.GetType().Assembly.GetName().Version}; strict PTX loader (no FMA contraction): {GpuKernels.CanLoadStrictPtx}");
        Console.WriteLine($"// {rules} built-in rules ({planned} rule plans in Kernels.dll); per rule: every configuration the GPU tests use (defaults; weight decay/momentum on; each flag alone; all flags),");
        Console.WriteLine($"// {steps} steps each (the step count advancing), single launch at lengths {string.Join(", ", lengths)} and one multi-tensor launch over tensors of {string.Join(", ", tensors)} elements");
        Console.WriteLine($"// (each tensor with its own configuration). Data: seed {seed}; parameter and gradient in [-1, 1], state non-negative, and in");
        Console.WriteLine("// every buffer about one value in 32 replaced by NaN (quiet, with and without payload, either sign), ±Inf, ±0, a subnormal, ±float.MaxValue or 1e±30.");
        Console.WriteLine("// Compared after every step, every element of every buffer, bit for bit; allowed: a NaN where the span overload has a NaN, any sign and payload.");
        Console.WriteLine();
    }

    private static void Table(List<Outcome> outcomes)
    {
        Console.WriteLine("| Rule | Element | Configurations | Single launch | Multi-tensor | Values compared | NaN sign/payload differences (allowed) | Result | Seconds |");
        Console.WriteLine("| --- | --- | ---: | --- | --- | ---: | ---: | --- | ---: |");
        foreach (Outcome o in outcomes)
        {
            string result = o.Error is not null ? "ERROR" : o.Mismatches == 0 ? "bit-identical" : $"MISMATCH ({o.Mismatches:N0})";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {o.Rule.Name} | {o.Rule.ElementType.Name.ToLowerInvariant() switch { "single" => "float", var n => n }} | {o.Configurations} | {o.SingleLaunches} | {o.MultiLaunches} | {o.Compared:N0} | {o.NaNDifferences:N0} | {result} | {o.Seconds:F1} |"));
        }
    }

    private static void SingleLaunch(Accelerator accelerator, CheckedRule rule, int[] lengths, int steps, int seed, Outcome outcome)
    {
        object?[][] configurations = rule.Configurations().ToArray();
        outcome.Configurations = configurations.Length;
        int launches = 0;
        foreach (int length in lengths)
        {
            for (int c = 0; c < configurations.Length; c++)
            {
                Array[] expected = rule.InitialBuffers(length, seed + 1000 * c + length);
                using var device = new DeviceBuffers(accelerator, expected);
                for (int s = 0; s < steps; s++)
                {
                    object?[] uniforms = rule.AtStep(configurations[c], s);
                    rule.RunSpan(expected, uniforms);
                    rule.RunGpu(accelerator.DefaultStream, device.Views, uniforms);
                    accelerator.Synchronize();
                    launches++;
                    Compare(expected, device.Read(), rule, outcome, $"length {length}, configuration {Describe(rule, uniforms)}, step {s + 1}", offsets: null);
                }
            }
        }
        outcome.SingleLaunches = $"{lengths.Length} lengths × {configurations.Length} configurations × {steps} steps = {launches} launches";
    }

    private static void MultiTensor(Accelerator accelerator, CheckedRule rule, long[] lengths, int steps, int seed, Outcome outcome)
    {
        object?[][] configurations = rule.Configurations().ToArray();
        int total = (int)lengths.Sum();
        long[] offsets = new long[lengths.Length + 1];
        for (int t = 0; t < lengths.Length; t++)
            offsets[t + 1] = offsets[t] + lengths[t];
        Array[] expected = rule.InitialBuffers(total, seed + 7);
        using var table = new GpuTensorTable(accelerator, lengths);
        using var device = new DeviceBuffers(accelerator, expected);
        for (int s = 0; s < steps; s++)
        {
            // Reference: each tensor on its own slice, with its own configuration, through the span overload.
            var perTensor = Array.CreateInstance(rule.Prepare.ReturnType, lengths.Length);
            for (int t = 0; t < lengths.Length; t++)
            {
                object?[] uniforms = rule.AtStep(configurations[t % configurations.Length], s);
                perTensor.SetValue(rule.Prepare.Invoke(null, uniforms), t);
                Array[] slices = expected.Select(a => Slice(a, offsets[t], lengths[t])).ToArray();
                rule.RunSpan(slices, uniforms);
                for (int b = 0; b < slices.Length; b++)
                    Array.Copy(slices[b], 0, expected[b], offsets[t], lengths[t]);
            }
            rule.RunMultiGpu(accelerator.DefaultStream, table, device.Views, perTensor);
            accelerator.Synchronize();
            Compare(expected, device.Read(), rule, outcome, $"multi-tensor, step {s + 1}", offsets);
        }
        outcome.MultiLaunches = $"{lengths.Length} tensors, {total:N0} elements × {steps} steps";
    }

    private static Array Slice(Array source, long offset, long length)
    {
        Array slice = Array.CreateInstance(source.GetType().GetElementType()!, length);
        Array.Copy(source, offset, slice, 0, length);
        return slice;
    }

    private static void Compare(Array[] expected, Array[] actual, CheckedRule rule, Outcome outcome, string where, long[]? offsets)
    {
        for (int b = 0; b < expected.Length; b++)
        {
            int length = expected[b].Length;
            outcome.Compared += length;
            // Identical bytes are the rule (a vectorized comparison); only a buffer that differs is walked element by element.
            if (SameBytes(expected[b], actual[b]))
                continue;
            for (int i = 0; i < length; i++)
            {
                (long e, long a, bool eNaN, bool aNaN) = expected[b] switch
                {
                    float[] f => (BitConverter.SingleToInt32Bits(f[i]), BitConverter.SingleToInt32Bits(((float[])actual[b])[i]), float.IsNaN(f[i]), float.IsNaN(((float[])actual[b])[i])),
                    double[] d => (BitConverter.DoubleToInt64Bits(d[i]), BitConverter.DoubleToInt64Bits(((double[])actual[b])[i]), double.IsNaN(d[i]), double.IsNaN(((double[])actual[b])[i])),
                    _ => throw new NotSupportedException(expected[b].GetType().ToString()),
                };
                if (e == a)
                    continue;
                if (eNaN && aNaN)
                {
                    outcome.NaNDifferences++;
                    continue;
                }
                outcome.Mismatches++;
                if (outcome.Examples.Count < 8)
                {
                    string tensor = offsets is null ? "" : $" (tensor {Array.FindLastIndex(offsets, o => o <= i)})";
                    outcome.Examples.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{where}: buffer '{rule.Buffers[b].Name}', element {i}{tensor}: span overload {expected[b].GetValue(i):R} (0x{Hex(expected[b], e)}), kernel {actual[b].GetValue(i):R} (0x{Hex(expected[b], a)})"));
                }
            }
        }
    }

    private static bool SameBytes(Array expected, Array actual) => (expected, actual) switch
    {
        (float[] e, float[] a) => MemoryMarshal.AsBytes(e.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(a.AsSpan())),
        (double[] e, double[] a) => MemoryMarshal.AsBytes(e.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(a.AsSpan())),
        _ => throw new NotSupportedException(expected.GetType().ToString()),
    };

    private static string Hex(Array buffer, long bits) =>
        buffer is float[] ? ((uint)bits).ToString("X8", CultureInfo.InvariantCulture) : ((ulong)bits).ToString("X16", CultureInfo.InvariantCulture);

    private static string Describe(CheckedRule rule, object?[] uniforms) =>
        "(" + string.Join(", ", rule.Uniforms.Zip(uniforms, (p, v) => $"{p.Name}: {Convert.ToString(v, CultureInfo.InvariantCulture)}")) + ")";

    private static long Option(string[] args, string name, long fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? (long)double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static int[]? LengthsOption(string[] args)
    {
        int i = Array.IndexOf(args, "--lengths");
        return i >= 0 && i + 1 < args.Length ? args[i + 1].Split(',').Select(s => (int)double.Parse(s, CultureInfo.InvariantCulture)).ToArray() : null;
    }

    /// <summary>What one rule's check found.</summary>
    private sealed class Outcome(CheckedRule rule)
    {
        public CheckedRule Rule { get; } = rule;
        public int Configurations { get; set; }
        public string SingleLaunches { get; set; } = "-";
        public string MultiLaunches { get; set; } = "-";
        public long Compared { get; set; }
        public long NaNDifferences { get; set; }
        public long Mismatches { get; set; }
        public string? Error { get; set; }
        public double Seconds { get; set; }
        public List<string> Examples { get; } = new();
        public bool Passed => Error is null && Mismatches == 0;
    }
}

/// <summary>
/// One built-in rule found by reflection: its span overload, and the single-launch and multi-tensor GPU launchers of
/// its <c>{Type}{Method}Gpu</c> class in Kernels.Gpu (generated from the rule plan Kernels.dll carries; the launchers
/// are C# 14 static extension members, compiled onto that class). A trimmed copy of the GPU tests' harness
/// (Tests/Kernels.Tests.Gpu/Harness/BuiltInRule.cs), which a published program cannot reference.
/// </summary>
internal sealed class CheckedRule
{
    private CheckedRule(Type owner, Type gpuClass, MethodInfo span, MethodInfo gpu, MethodInfo multiGpu)
    {
        Owner = owner;
        Span = span;
        Gpu = gpu;
        MultiGpu = multiGpu;
        Prepare = gpuClass.GetMethod("Prepare")!;
        ElementType = span.GetParameters()[0].ParameterType.GetGenericArguments()[0];
        Buffers = span.GetParameters().Where(p => IsSpan(p.ParameterType)).ToArray();
        Uniforms = span.GetParameters().Where(p => !IsSpan(p.ParameterType) && p.ParameterType != typeof(StepOptions)).ToArray();
    }

    public Type Owner { get; }
    public MethodInfo Span { get; }
    public MethodInfo Gpu { get; }
    public MethodInfo MultiGpu { get; }
    public MethodInfo Prepare { get; }
    public Type ElementType { get; }
    public ParameterInfo[] Buffers { get; }
    public ParameterInfo[] Uniforms { get; }
    public string Name => Owner.Name + "." + Span.Name;

    /// <summary>Every rule planned in Kernels.dll, with its GPU class from Kernels.Gpu, in a stable order.</summary>
    public static IReadOnlyList<CheckedRule> BuiltIns()
    {
        Assembly rules = typeof(Kernels.Optimizers.AdamW).Assembly, gpu = typeof(GpuKernels).Assembly;
        var found = new List<CheckedRule>();
        foreach (RulePlanAttribute plan in rules.GetCustomAttributes<RulePlanAttribute>())
        {
            Type owner = plan.RuleType;
            string typeNames = "";
            for (Type? t = owner; t is not null; t = t.DeclaringType)
                typeNames = t.Name + typeNames;
            Type gpuClass = gpu.GetType(owner.Namespace + "." + typeNames + plan.Method + "Gpu", throwOnError: true)!;
            MethodInfo span = owner.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                .Single(m => m.Name == plan.Method && m.GetParameters() is { Length: > 0 } p && IsElementSpan(p[0].ParameterType));
            MethodInfo[] overloads = gpuClass.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly).Where(m => m.Name == plan.Method && !m.IsGenericMethodDefinition).ToArray();
            MethodInfo single = overloads.Single(m => m.GetParameters() is { Length: > 1 } p && p[0].ParameterType == typeof(AcceleratorStream) && p[1].ParameterType != typeof(GpuTensorTable));
            MethodInfo multi = overloads.Single(m => m.GetParameters() is { Length: > 1 } p && p[1].ParameterType == typeof(GpuTensorTable));
            found.Add(new CheckedRule(owner, gpuClass, span, single, multi));
        }
        return found.OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
    }

    private static bool IsSpan(Type t) => t.IsGenericType && (t.GetGenericTypeDefinition() == typeof(Span<>) || t.GetGenericTypeDefinition() == typeof(ReadOnlySpan<>));

    // A span of elements (the span overload), not of buffers (the CPU multi-tensor overload) nor of a storage type (bf16).
    private static bool IsElementSpan(Type t) => IsSpan(t) && t.GetGenericArguments()[0].IsPrimitive;

    /// <summary>The GPU tests' configurations: the defaults; weight decay, momentum, dampening and lr decay on; each bool alone; every bool.</summary>
    public IEnumerable<object?[]> Configurations()
    {
        var bools = Uniforms.Where(u => u.ParameterType == typeof(bool)).ToList();
        yield return UniformValues(step: 1, active: false, setBools: _ => false);
        yield return UniformValues(step: 7, active: true, setBools: _ => false);
        foreach (ParameterInfo b in bools)
            yield return UniformValues(step: 3, active: true, setBools: p => p == b);
        if (bools.Count > 1)
            yield return UniformValues(step: 11, active: true, setBools: _ => true);
    }

    /// <summary><paramref name="configuration"/> at its <paramref name="step"/>-th step: every int uniform (the step count) advanced.</summary>
    public object?[] AtStep(object?[] configuration, int step) =>
        configuration.Select((v, i) => Uniforms[i].ParameterType == typeof(int) ? (object)((int)v! + step) : v).ToArray();

    private object?[] UniformValues(int step, bool active, Func<ParameterInfo, bool> setBools) => Uniforms.Select(p => p.ParameterType switch
    {
        Type t when t == typeof(bool) => (object?)setBools(p),
        Type t when t == typeof(int) => step,
        Type t when t == typeof(double) && active && p.Name is "weightDecay" => 0.05,
        Type t when t == typeof(double) && active && p.Name is "momentum" => 0.9,
        Type t when t == typeof(double) && active && p.Name is "dampening" => 0.1,
        Type t when t == typeof(double) && active && p.Name is "lrDecay" => 0.01,
        _ when p.HasDefaultValue => p.DefaultValue,
        Type t when t == typeof(double) && p.Name is "muProduct" => 0.9 * 0.95,
        Type t when t == typeof(double) => 0.01,
        Type t when t == typeof(float) => 0.01f,
        Type t => throw new NotSupportedException($"{Name}: no value for uniform '{p.Name}' of type {t}."),
    }).ToArray();

    private static readonly float[] s_floatSpecials =
    {
        float.NaN, -float.NaN, BitConverter.Int32BitsToSingle(0x7FC00123), BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00001)),
        float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.Epsilon, -float.Epsilon, 1e-40f, -3e-39f,
        1.17549435e-38f, float.MaxValue, -float.MaxValue, 1e30f, -1e-30f,
    };

    private static readonly double[] s_doubleSpecials =
    {
        double.NaN, -double.NaN, BitConverter.Int64BitsToDouble(0x7FF8000000000123), BitConverter.Int64BitsToDouble(unchecked((long)0xFFF8000000000001)),
        double.PositiveInfinity, double.NegativeInfinity, 0d, -0d, double.Epsilon, -double.Epsilon, 1e-310, -3e-309,
        2.2250738585072014e-308, double.MaxValue, -double.MaxValue, 1e300, -1e-300,
    };

    /// <summary>
    /// The tests' data (parameter and gradient in [-1, 1], state buffers small and non-negative, an exact zero every
    /// 97 elements) with about one value in 32 of every buffer replaced by a special value.
    /// </summary>
    public Array[] InitialBuffers(int length, int seed)
    {
        var random = new Random(seed);
        return Buffers.Select((_, b) =>
        {
            var values = new double[length];
            bool[] special = new bool[length];
            for (int k = 0; k < length; k++)
            {
                double v = random.NextDouble() * 2 - 1;
                if (b >= 2)
                    v = Math.Abs(v) * 0.1 + 1e-3;
                if (k % 97 == 0)
                    v = 0;
                values[k] = v;
                special[k] = random.Next(32) == 0;
            }
            if (ElementType == typeof(float))
            {
                float[] f = values.Select(v => (float)v).ToArray();
                for (int k = 0; k < length; k++)
                    f[k] = special[k] ? s_floatSpecials[random.Next(s_floatSpecials.Length)] : f[k];
                return (Array)f;
            }
            for (int k = 0; k < length; k++)
                values[k] = special[k] ? s_doubleSpecials[random.Next(s_doubleSpecials.Length)] : values[k];
            return values;
        }).ToArray();
    }

    /// <summary>Runs the span overload, single-threaded, on arrays in place.</summary>
    public void RunSpan(Array[] buffers, object?[] uniforms)
    {
        var args = new List<object?>();
        int b = 0, u = 0;
        foreach (ParameterInfo p in Span.GetParameters())
            args.Add(IsSpan(p.ParameterType) ? buffers[b++] : p.ParameterType == typeof(StepOptions) ? StepOptions.SingleThreaded : uniforms[u++]);
        Invoker(Span)(args.ToArray());
    }

    public void RunGpu(AcceleratorStream stream, object[] views, object?[] uniforms) =>
        Invoker(Gpu)(WithDefaults(Gpu, new object?[] { stream }.Concat(views).Concat(uniforms)));

    public void RunMultiGpu(AcceleratorStream stream, GpuTensorTable table, object[] views, Array perTensor) =>
        Invoker(MultiGpu)(WithDefaults(MultiGpu, new object?[] { stream, table }.Concat(views).Append(perTensor)));

    /// <summary>The arguments, then the defaults of the launcher's remaining optional parameters (a float rule's launchers end with <c>StepOptions options = default</c>).</summary>
    private static object?[] WithDefaults(MethodInfo launcher, IEnumerable<object?> arguments)
    {
        var all = arguments.ToList();
        foreach (ParameterInfo p in launcher.GetParameters().Skip(all.Count))
            all.Add(p.DefaultValue is DBNull or null && p.ParameterType.IsValueType ? Activator.CreateInstance(p.ParameterType) : p.DefaultValue);
        return all.ToArray();
    }

    private static readonly Dictionary<MethodInfo, Action<object?[]>> s_invokers = new();

    /// <summary>Calls a static method whose span parameters are passed as arrays (reflection cannot box a span, so a dynamic method builds them).</summary>
    private static Action<object?[]> Invoker(MethodInfo method)
    {
        if (s_invokers.TryGetValue(method, out Action<object?[]>? cached))
            return cached;
        var dynamic = new DynamicMethod("Invoke" + method.Name, null, new[] { typeof(object?[]) }, typeof(CheckedRule).Module, skipVisibility: true);
        ILGenerator il = dynamic.GetILGenerator();
        ParameterInfo[] parameters = method.GetParameters();
        for (int i = 0; i < parameters.Length; i++)
        {
            Type t = parameters[i].ParameterType;
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldc_I4, i);
            il.Emit(OpCodes.Ldelem_Ref);
            if (IsSpan(t))
            {
                Type array = t.GetGenericArguments()[0].MakeArrayType();
                il.Emit(OpCodes.Castclass, array);
                il.Emit(OpCodes.Newobj, t.GetConstructor(new[] { array })!);
            }
            else if (t.IsValueType)
            {
                il.Emit(OpCodes.Unbox_Any, t);
            }
            else
            {
                il.Emit(OpCodes.Castclass, t);
            }
        }
        il.Emit(OpCodes.Call, method);
        il.Emit(OpCodes.Ret);
        var invoker = dynamic.CreateDelegate<Action<object?[]>>();
        s_invokers[method] = invoker;
        return invoker;
    }
}

/// <summary>Accelerator copies of host arrays (float[] or double[]), handed to the launchers as boxed <see cref="ArrayView{T}"/>s.</summary>
internal sealed class DeviceBuffers : IDisposable
{
    private readonly MemoryBuffer[] _buffers;

    public DeviceBuffers(Accelerator accelerator, Array[] arrays)
    {
        _buffers = new MemoryBuffer[arrays.Length];
        Views = new object[arrays.Length];
        for (int i = 0; i < arrays.Length; i++)
        {
            switch (arrays[i])
            {
                case float[] f:
                {
                    var buffer = accelerator.Allocate1D(f);
                    _buffers[i] = buffer;
                    Views[i] = (ArrayView<float>)buffer.View;
                    break;
                }
                case double[] d:
                {
                    var buffer = accelerator.Allocate1D(d);
                    _buffers[i] = buffer;
                    Views[i] = (ArrayView<double>)buffer.View;
                    break;
                }
                default:
                    throw new NotSupportedException(arrays[i].GetType().ToString());
            }
        }
    }

    public object[] Views { get; }

    public Array[] Read() => _buffers.Select(b => b switch
    {
        MemoryBuffer1D<float, Stride1D.Dense> f => (Array)f.GetAsArray1D(),
        MemoryBuffer1D<double, Stride1D.Dense> d => d.GetAsArray1D(),
        _ => throw new NotSupportedException(),
    }).ToArray();

    public void Dispose()
    {
        foreach (MemoryBuffer b in _buffers)
            b.Dispose();
    }
}

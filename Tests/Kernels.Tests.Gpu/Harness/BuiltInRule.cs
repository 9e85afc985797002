using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using ILGPU;
using ILGPU.Runtime;
using Kernels.CompilerServices;
using Kernels.Gpu;

namespace Kernels.Tests.Gpu.Harness;

/// <summary>
/// One generated rule found by reflection: its span overload, its GPU launchers and its GPU class — the nested
/// <c>{Method}Gpu</c> of a rule whose own assembly references ILGPU (the test rules), or for a built-in the top-level
/// <c>{Type}{Method}Gpu</c> of Kernels.Gpu, generated from the rule plan Kernels.dll carries, whose launchers are static
/// extension members of the rule's type. Lets every test run over every built-in, including ones added after these
/// tests were written.
/// </summary>
public sealed class BuiltInRule
{
    private BuiltInRule(Type owner, Type gpuClass, MethodInfo span, MethodInfo gpu, MethodInfo multiGpu)
    {
        Owner = owner;
        GpuClass = gpuClass;
        Span = span;
        Gpu = gpu;
        MultiGpu = multiGpu;
        Prepare = gpuClass.GetMethod("Prepare")!;
        Kernel = gpuClass.GetMethod("Kernel")!;
        MultiTensorKernel = gpuClass.GetMethod("MultiTensorKernel")!;
        ElementType = span.GetParameters()[0].ParameterType.GetGenericArguments()[0];
        Buffers = span.GetParameters().Where(p => IsSpan(p.ParameterType)).ToArray();
        Uniforms = span.GetParameters().Where(p => !IsSpan(p.ParameterType) && p.ParameterType != typeof(StepOptions)).ToArray();
    }

    public Type Owner { get; }
    public Type GpuClass { get; }
    public MethodInfo Span { get; }
    public MethodInfo Gpu { get; }
    public MethodInfo MultiGpu { get; }
    public MethodInfo Prepare { get; }
    public MethodInfo Kernel { get; }
    public MethodInfo MultiTensorKernel { get; }
    public Type ElementType { get; }
    public ParameterInfo[] Buffers { get; }
    public ParameterInfo[] Uniforms { get; }

    public string Name => Owner.Name + "." + Span.Name;

    /// <summary>
    /// Rules calling Exp or Log: their span overload uses the vector forms (within 2 ulp of the scalar function
    /// per call, see ExpLogUlpTests in Kernels.Tests), while the kernel on the CPU accelerator calls the scalar
    /// function itself — so for them the reference is the scalar rule, element by element (still bit-identical).
    /// </summary>
    public bool CallsExpOrLog()
    {
        MethodInfo element = GpuClass.GetMethod("Element", BindingFlags.NonPublic | BindingFlags.Static)!;
        byte[] il = element.GetMethodBody()!.GetILAsByteArray()!;
        for (int i = 0; i + 4 < il.Length; i++)
        {
            if (il[i] != 0x28) // call
                continue;
            try
            {
                MethodBase? callee = element.Module.ResolveMethod(BitConverter.ToInt32(il, i + 1));
                if (callee?.DeclaringType == typeof(GpuMath) && callee.Name is "Exp" or "Log")
                    return true;
            }
            catch (ArgumentException)
            {
                // not a method token: the 0x28 byte was an operand
            }
        }
        return false;
    }

    public override string ToString() => Name;

    /// <summary>Every rule of <paramref name="assembly"/> with a nested GPU part (the rule's assembly references ILGPU), in a stable order.</summary>
    public static IReadOnlyList<BuiltInRule> In(Assembly assembly)
    {
        var rules = new List<BuiltInRule>();
        foreach (Type owner in assembly.GetTypes())
        {
            foreach (Type gpuClass in owner.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic).Where(t => t.Name.EndsWith("Gpu", StringComparison.Ordinal) && t.GetMethod("MultiTensorKernel") is not null))
                rules.Add(Create(owner, gpuClass.Name[..^"Gpu".Length], gpuClass, launchers: owner));
        }
        return rules.OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Every rule planned in <paramref name="rules"/> ([assembly: RulePlan]) whose GPU class <paramref name="gpu"/> declares
    /// (<c>{Type}{Method}Gpu</c>, launchers as static extension members: compiled onto the class itself), in a stable order.
    /// </summary>
    public static IReadOnlyList<BuiltInRule> Planned(Assembly rules, Assembly gpu)
    {
        var found = new List<BuiltInRule>();
        foreach (RulePlanAttribute plan in rules.GetCustomAttributes<RulePlanAttribute>())
        {
            Type owner = plan.RuleType;
            string typeNames = string.Concat(Enumerable.Reverse(Chain(owner)).Select(t => t.Name));
            Type gpuClass = gpu.GetType(owner.Namespace + "." + typeNames + plan.Method + "Gpu", throwOnError: true)!;
            // A rule with reductions has a reduction and an update kernel and no multi-tensor launch (ReductionGpuTests).
            if (gpuClass.GetMethod("MultiTensorKernel") is null)
                continue;
            found.Add(Create(owner, plan.Method, gpuClass, launchers: gpuClass));
        }
        return found.OrderBy(r => r.Name, StringComparer.Ordinal).ToList();

        static IEnumerable<Type> Chain(Type t)
        {
            for (Type? c = t; c is not null; c = c.DeclaringType)
                yield return c;
        }
    }

    private static BuiltInRule Create(Type owner, string method, Type gpuClass, Type launchers)
    {
        MethodInfo span = owner.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Single(m => m.Name == method && m.GetParameters() is { Length: > 0 } p && IsElementSpan(p[0].ParameterType));
        MethodInfo[] overloads = launchers.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly).Where(m => m.Name == method && !m.IsGenericMethodDefinition).ToArray();
        MethodInfo gpu = overloads.Single(m => m.GetParameters() is { Length: > 1 } p && p[0].ParameterType == typeof(AcceleratorStream) && p[1].ParameterType != typeof(GpuTensorTable));
        MethodInfo multi = overloads.Single(m => m.GetParameters() is { Length: > 1 } p && p[1].ParameterType == typeof(GpuTensorTable));
        return new BuiltInRule(owner, gpuClass, span, gpu, multi);
    }

    /// <summary>The built-in optimizers (Kernels.Optimizers), with their GPU classes from Kernels.Gpu.</summary>
    public static IReadOnlyList<BuiltInRule> BuiltIns { get; } = Planned(typeof(Kernels.Optimizers.AdamW).Assembly, typeof(GpuKernels).Assembly);

    /// <summary>The rules declared in this test project (constructs the built-ins do not use).</summary>
    public static IReadOnlyList<BuiltInRule> TestRules { get; } = In(typeof(BuiltInRule).Assembly);

    /// <summary>Theory data: every built-in and every test rule.</summary>
    public static IEnumerable<object[]> AllNames => BuiltIns.Concat(TestRules).Select(r => new object[] { r.Name });

    public static BuiltInRule Named(string name) => BuiltIns.Concat(TestRules).Single(r => r.Name == name);

    public static bool IsSpan(Type t) => t.IsGenericType && (t.GetGenericTypeDefinition() == typeof(Span<>) || t.GetGenericTypeDefinition() == typeof(ReadOnlySpan<>));

    // A span of elements (the span overload), not a span of buffers (the CPU multi-tensor overload).
    private static bool IsElementSpan(Type t) => IsSpan(t) && t.GetGenericArguments()[0].IsPrimitive;

    /// <summary>
    /// Uniform configurations that reach the rule's branches: the defaults; each bool set on its own; every bool
    /// set. Momentum and weight decay are switched on (and the step count varied) so their paths run too.
    /// </summary>
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
        Type t => throw new NotSupportedException($"{Name}: no test value for uniform '{p.Name}' of type {t}."),
    }).ToArray();

    /// <summary>Initial buffer contents: parameter and gradient in [-1, 1], state buffers non-negative (second moments, step sizes).</summary>
    public Array[] InitialBuffers(int length, int seed)
    {
        var random = new Random(seed);
        return Buffers.Select((b, i) =>
        {
            Array a = Array.CreateInstance(ElementType, length);
            for (int k = 0; k < length; k++)
            {
                double v = random.NextDouble() * 2 - 1;
                if (i >= 2)
                    v = Math.Abs(v) * 0.1 + 1e-3;
                if (k % 97 == 0)
                    v = 0; // exact zeros: sign and max/min corner cases
                a.SetValue(ElementType == typeof(float) ? (object)(float)v : v, k);
            }
            return a;
        }).ToArray();
    }

    /// <summary>Runs the span overload on <paramref name="buffers"/> (arrays, in place).</summary>
    public void RunSpan(Array[] buffers, object?[] uniforms)
    {
        var args = new List<object?>();
        int b = 0, u = 0;
        foreach (ParameterInfo p in Span.GetParameters())
            args.Add(IsSpan(p.ParameterType) ? buffers[b++] : p.ParameterType == typeof(StepOptions) ? StepOptions.SingleThreaded : uniforms[u++]);
        Invoker(Span)(args.ToArray());
    }

    /// <summary>The reference: the span overload, or for rules calling Exp/Log the scalar rule element by element.</summary>
    public void RunReference(Array[] buffers, object?[] uniforms)
    {
        if (CallsExpOrLog())
            RunScalar(buffers, uniforms);
        else
            RunSpan(buffers, uniforms);
    }

    /// <summary>Runs the rule as written ([UpdateRule] method, ref/in per element) on every element.</summary>
    public void RunScalar(Array[] buffers, object?[] uniforms)
    {
        MethodInfo scalar = Owner.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Single(m => m.Name == Span.Name && m.GetParameters() is { Length: > 0 } p && p[0].ParameterType.IsByRef);
        ParameterInfo[] parameters = scalar.GetParameters();
        int length = buffers[0].Length;
        var args = new object?[parameters.Length];
        for (int i = 0; i < length; i++)
        {
            int b = 0, u = 0;
            for (int k = 0; k < parameters.Length; k++)
                args[k] = parameters[k].ParameterType.IsByRef ? buffers[b++].GetValue(i) : uniforms[u++];
            scalar.Invoke(null, args);
            b = 0;
            for (int k = 0; k < parameters.Length; k++)
            {
                if (parameters[k].ParameterType.IsByRef)
                    buffers[b++].SetValue(args[k], i);
            }
        }
    }

    /// <summary>Runs the single-launch GPU overload on views of one accelerator.</summary>
    public void RunGpu(AcceleratorStream stream, object[] views, object?[] uniforms) =>
        Invoker(Gpu)(WithDefaults(Gpu, new object?[] { stream }.Concat(views).Concat(uniforms)));

    /// <summary>Runs the multi-tensor GPU overload; <paramref name="perTensor"/> is an array of the rule's Inputs.</summary>
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

    /// <summary>The rule's Inputs for one configuration.</summary>
    public object PrepareInputs(object?[] uniforms) => Prepare.Invoke(null, uniforms)!;

    private static readonly Dictionary<MethodInfo, Action<object?[]>> s_invokers = new();

    /// <summary>
    /// Calls a static method whose Span/ReadOnlySpan parameters are passed as arrays (reflection cannot box
    /// spans, so a small dynamic method builds them).
    /// </summary>
    public static Action<object?[]> Invoker(MethodInfo method)
    {
        lock (s_invokers)
        {
            if (s_invokers.TryGetValue(method, out Action<object?[]>? cached))
                return cached;
            var dynamic = new DynamicMethod("Invoke" + method.Name, null, new[] { typeof(object?[]) }, typeof(BuiltInRule).Module, skipVisibility: true);
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
}

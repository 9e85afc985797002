using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// Writes a rule's optimizer object: a nested options class (one property per hyperparameter, the rule's defaults, by
/// name for schedules and checkpoints) and a nested optimizer class over <c>Kernels.Training.Optimizer&lt;T, TOptions&gt;</c>
/// whose step prepares the rule's kernel once per batch of tensors and runs it over all of them, state buffers allocated
/// by the runtime on first use (never for a buffer the configuration does not touch). The optimizer of a float rule also
/// takes parameters stored as bfloat16 or fp16: its step runs the rule's storage kernel (the code of the rule's storage
/// overloads) over them, on the parameters themselves or on fp32 master copies.
/// </summary>
internal static class OptimizerEmitter
{
    private const string Training = "global::Kernels.Training";
    private const string CompilerServices = "global::Kernels.CompilerServices";
    private const string BFloat16Type = "global::Kernels.Precision.BFloat16";
    private const string Memory = "global::System.Memory";
    private const string ReadOnlyMemory = "global::System.ReadOnlyMemory";
    private const string ReadOnlySpan = "global::System.ReadOnlySpan";

    public static string HintName(OptimizerSpec spec) => spec.Rule.HintName.Replace(".g.cs", ".Optimizer.g.cs");

    public static string Emit(OptimizerSpec spec) => EmitterCommon.WriteFile(spec.Rule, w =>
    {
        EmitOptions(w, spec);
        w.Line();
        EmitOptimizer(w, spec);
    });

    private static string OptionsType(OptimizerSpec spec) => $"{spec.ContainingType}.{spec.OptionsName}";

    private static string RuleText(OptimizerSpec spec) => EmitterCommon.Raw(spec.Rule.MethodName);

    private static void EmitOptions(SourceWriter w, OptimizerSpec spec)
    {
        List<HyperparameterSpec> named = spec.Hyperparameters.Where(h => h.Kind != HyperparameterKind.Other).ToList();
        w.Line($"/// <summary>The hyperparameters of one parameter group of <see cref=\"{spec.TypeName}\"/>: the uniform parameters of the update rule <c>{RuleText(spec)}</c>, with its defaults.</summary>");
        w.Line(EmitterCommon.GeneratedCode);
        w.Open($"{spec.Accessibility} sealed class {spec.OptionsName} : {Training}.Hyperparameters");
        w.Line($"private static readonly string[] __names = {{ {string.Join(", ", named.Select(h => "\"" + EmitterCommon.Raw(h.Name) + "\""))} }};");
        w.Line();
        w.Line("internal " + spec.OptionsName + "()");
        w.Line("{");
        w.Line("}");
        foreach (HyperparameterSpec h in spec.Hyperparameters)
        {
            w.Line();
            string doc = h.Documentation ?? $"Hyperparameter <c>{EmitterCommon.Raw(h.Name)}</c> of the rule.";
            w.Line($"/// <summary>{doc}{(h.DefaultValue is null ? "" : $" Default: <c>{Xml(h.DefaultValue)}</c>.")}</summary>");
            w.Line($"public {h.TypeName} {h.Property} {{ get; set; }} = default!;");
        }
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Line("public override global::System.Collections.Generic.IReadOnlyList<string> Names => __names;");
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Open("protected override double GetValue(int index)");
        w.Open("switch (index)");
        for (int i = 0; i < named.Count; i++)
        {
            HyperparameterSpec h = named[i];
            string read = h.Kind == HyperparameterKind.Bool ? $"this.{h.Property} ? 1d : 0d" : $"(double)this.{h.Property}";
            w.Line($"case {i}: return {read};");
        }
        w.Line("default: throw new global::System.ArgumentOutOfRangeException(\"index\");");
        w.Close();
        w.Close();
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Open("protected override void SetValue(int index, double value)");
        w.Open("switch (index)");
        for (int i = 0; i < named.Count; i++)
        {
            HyperparameterSpec h = named[i];
            string value = h.Kind switch
            {
                HyperparameterKind.Bool => "value != 0",
                HyperparameterKind.Single => "(float)value",
                HyperparameterKind.Int32 => $"this.ToInt32({i}, value)",
                HyperparameterKind.Int64 => $"this.ToInt64({i}, value)",
                _ => "value",
            };
            w.Line($"case {i}: this.{h.Property} = {value}; break;");
        }
        w.Line("default: throw new global::System.ArgumentOutOfRangeException(\"index\");");
        w.Close();
        w.Close();
        w.Close();
    }

    private static void EmitOptimizer(SourceWriter w, OptimizerSpec spec)
    {
        RuleSpec rule = spec.Rule;
        string t = rule.ElementType;
        var kernel = new RuleEmitter.InternalNames(rule);
        string kernelType = $"{spec.ContainingType}.{kernel.KernelType}";
        string options = OptionsType(spec);
        List<ParameterSpec> buffers = EmitterCommon.Buffers(rule);
        ParameterSpec param = buffers.First(b => b.Role == ParameterRole.Ref);
        ParameterSpec grad = buffers.First(b => b.Role == ParameterRole.In);
        List<ParameterSpec> stateBuffers = buffers.Where(b => b.Role == ParameterRole.Ref && b != param).ToList();

        // Constructor parameter names: the rule's, plus two of ours that avoid them.
        var taken = new HashSet<string>(spec.Hyperparameters.Select(h => EmitterCommon.Raw(h.Name)));
        string Unique(string name)
        {
            while (!taken.Add(name))
                name = "_" + name;
            return name;
        }
        string parameters = Unique("parameters"), stepOptions = Unique("stepOptions"), statePrecision = Unique("statePrecision");
        string parameterPrecision = Unique("parameterPrecision");
        // 8-bit state runs the float kernel on dequantized blocks: float rules only, and not yet a rule with reductions.
        bool quantizable = t == "float" && !spec.Rule.HasReductions;
        // 16-bit parameters run the rule's storage kernel (float rules with storage overloads: not yet one with reductions).
        bool lowPrecision = quantizable && RuleEmitter.HasStorageOverloads(rule) && !rule.HasErrors;

        w.Line("/// <summary>");
        w.Line($"/// An optimizer that runs the update rule <c>{RuleText(spec)}</c> over parameter groups, as a <c>torch.optim</c> optimizer does:");
        w.Line("/// per-parameter state allocated on first use, step counts, <c>Step()</c> over every group in one fused multi-tensor pass,");
        w.Line("/// <c>ClipGradNorm</c> applied inside that pass, <c>StateDict()</c>/<c>LoadStateDict()</c>.");
        if (lowPrecision)
        {
            w.Line("/// Parameters may be stored as float, bfloat16 or fp16 (<c>Parameter&lt;BFloat16&gt;</c>, <c>Parameter&lt;Half&gt;</c>), mixed in one list:");
            w.Line("/// 16-bit ones are widened, updated in float and rounded back in the same fused pass as the rule's storage overloads.");
        }
        w.Line("/// </summary>");
        w.Line(EmitterCommon.GeneratedCode);
        w.Open($"{spec.Accessibility} sealed class {spec.TypeName} : {Training}.Optimizer<{t}, {options}>");
        w.Line($"private static readonly string[] __state = {{ {string.Join(", ", stateBuffers.Select(b => "\"" + EmitterCommon.Raw(b.Name) + "\""))} }};");
        if (spec.TensorState.Count > 0)
            w.Line($"private static readonly string[] __tensorState = {{ {string.Join(", ", spec.TensorState.Select(s => "\"" + EmitterCommon.Raw(s.Name) + "\""))} }};");
        w.Line();

        // Constructor: one group over the parameters, hyperparameters as named arguments with the rule's defaults.
        w.Line("/// <summary>Creates the optimizer with one parameter group (add more with <c>AddParamGroup</c>).</summary>");
        w.Line(lowPrecision
            ? $"/// <param name=\"{parameters}\">The parameters of the first group: <c>Parameter&lt;float&gt;</c>, <c>Parameter&lt;BFloat16&gt;</c> or <c>Parameter&lt;Half&gt;</c>, in any mix.</param>"
            : $"/// <param name=\"{parameters}\">The parameters of the first group.</param>");
        foreach (HyperparameterSpec h in spec.Hyperparameters)
            w.Line($"/// <param name=\"{EmitterCommon.Raw(h.Name)}\">{h.Documentation ?? "Hyperparameter of the rule."}</param>");
        w.Line($"/// <param name=\"{stepOptions}\">Threading of the fused step.</param>");
        if (quantizable)
            w.Line($"/// <param name=\"{statePrecision}\">How state buffers are stored (default: float; 8-bit blockwise with <c>StatePrecision.Blockwise8Bit()</c>).</param>");
        if (lowPrecision)
            w.Line($"/// <param name=\"{parameterPrecision}\">How 16-bit parameters are rounded (default: to nearest; <c>ParameterPrecision.Stochastic(seed)</c>, <c>ParameterPrecision.Fp32MasterWeights</c>).</param>");
        var ctorParameters = new List<string> { $"global::System.Collections.Generic.IEnumerable<{Training}.Parameter> {parameters}" };
        ctorParameters.AddRange(spec.Hyperparameters.Select(h => $"{h.TypeName} {h.Name}{(h.DefaultValue is null ? "" : " = " + h.DefaultValue)}"));
        ctorParameters.Add($"global::Kernels.StepOptions {stepOptions} = default");
        if (quantizable)
            ctorParameters.Add($"{Training}.StatePrecision? {statePrecision} = null");
        if (lowPrecision)
            ctorParameters.Add($"{Training}.ParameterPrecision? {parameterPrecision} = null");
        w.Line($"public {spec.TypeName}({string.Join(", ", ctorParameters)})");
        string initializers = string.Join(", ", spec.Hyperparameters.Select(h => $"{h.Property} = {h.Name}"));
        w.Line($"    : base({parameters}, new {options} {{ {initializers} }}, {stepOptions}{(quantizable ? ", " + statePrecision : "")}{(lowPrecision ? ", " + parameterPrecision : "")})");
        w.Line("{");
        w.Line("}");
        w.Line();

        w.Line("/// <inheritdoc/>");
        w.Line($"public override string RuleName => \"{spec.RuleName}\";");
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Line("protected override string[] StateBufferNames => __state;");
        if (lowPrecision)
        {
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("protected override bool SupportsLowPrecisionParameters => true;");
        }
        if (spec.TensorState.Count > 0)
        {
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("protected override string[] TensorStateNames => __tensorState;");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open($"protected override double InitialTensorState(int index, {options} __options)");
            w.Open("switch (index)");
            for (int i = 0; i < spec.TensorState.Count; i++)
                w.Line($"case {i}: return {spec.TensorState[i].Initial};");
            w.Line("default: return 0;");
            w.Close();
            w.Close();
        }
        if (quantizable && spec.State.Any(s => s.NonNegative))
        {
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open("protected override bool IsStateNonNegative(int buffer)");
            w.Line($"return {string.Join(" || ", Enumerable.Range(0, spec.State.Count).Where(i => spec.State[i].NonNegative).Select(i => $"buffer == {i}"))};");
            w.Close();
        }
        if (spec.State.Any(s => s.InitialValue is not null))
        {
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open($"protected override {t} InitialStateValue(int buffer, {options} __options)");
            w.Open("switch (buffer)");
            for (int i = 0; i < spec.State.Count; i++)
            {
                if (spec.State[i].InitialValue is { } initial)
                    w.Line($"case {i}: return {initial};");
            }
            w.Line("default: return 0;");
            w.Close();
            w.Close();
        }
        w.Line();

        // The step over one batch: per-tensor values, the kernel prepared once, state lists, one dispatch.
        w.Line("/// <inheritdoc/>");
        w.Open($"protected override void StepTensors({options} __options, {CompilerServices}.OptimizerBatch<{t}> __batch)");
        for (int i = 0; i < spec.TensorState.Count; i++)
        {
            TensorStateSpec s = spec.TensorState[i];
            string previous = $"({s.TypeName})__batch.GetTensorState({i})";
            if (s.AfterStep)
            {
                // The value the previous step stored; the next is computed after this step.
                w.Line($"{s.TypeName} __tensorState{i} = {previous};");
                continue;
            }
            w.Line($"{s.TypeName} __tensorState{i} = {string.Format(s.UpdateCall, previous)};");
            w.Line($"__batch.SetTensorState({i}, __tensorState{i});");
        }
        var prepareArguments = new List<string>();
        foreach (ParameterSpec p in rule.Parameters.Where(p => p.Role == ParameterRole.Uniform))
        {
            int tensorState = IndexOf(spec.TensorState, s => s.Name == p.Name);
            if (p.Name == spec.StepName)
                prepareArguments.Add(spec.StepTypeName == "long" ? "__batch.Step" : "checked((int)__batch.Step)");
            else if (tensorState >= 0)
                prepareArguments.Add($"__tensorState{tensorState}");
            else
                prepareArguments.Add($"__options.{spec.Hyperparameters.First(h => h.Name == p.Name).Property}");
        }
        w.Line($"var __kernel = {kernelType}.{kernel.Prepare}({string.Join(", ", prepareArguments)});");
        if (rule.FaultName is not null)
        {
            w.Line("// The rule's step-invariant part threw (a hyperparameter it rejects): nothing has been written.");
            w.Line($"if (__kernel.{rule.FaultName} is not null)");
            w.Line($"    global::System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(__kernel.{rule.FaultName});");
        }
        if (KernelNaming.HasGradScale(rule))
            w.Line($"__kernel = __kernel.{kernel.WithGradScale}(__batch.GradScale);");
        string Used(ParameterSpec b) => b.Guard is null ? "true" : $"__kernel.{kernel.FieldOf(b.Guard)}";
        string layout = string.Join(", ", buffers.Select(b => b == param ? "-1" : b == grad ? "-2" : stateBuffers.IndexOf(b).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (lowPrecision)
        {
            w.Line("// Parameters stored in 16 bits: the rule's storage kernel (see __StepLowPrecision).");
            w.Open("if (__batch.ParameterType != typeof(float))");
            w.Line($"if (__batch.ParameterType == typeof({BFloat16Type}))");
            w.Line($"    __StepLowPrecision<{BFloat16Type}>(__kernel, __batch);");
            w.Line("else");
            w.Line("    __StepLowPrecision<global::System.Half>(__kernel, __batch);");
            foreach (string line in AfterStepLines(spec))
                w.Line(line);
            w.Line("return;");
            w.Close();
        }
        if (quantizable && stateBuffers.Count > 0)
        {
            // Some state in 8 bits: block by block through the same kernel (dequantize, run, re-quantize).
            w.Open("if (__batch.HasQuantizedState)");
            w.Line($"{CompilerServices}.BlockwiseStep.Run<{kernelType}>(__kernel, __batch, new sbyte[] {{ {layout} }}, new bool[] {{ {string.Join(", ", stateBuffers.Select(Used))} }});");
            foreach (string line in AfterStepLines(spec))
                w.Line(line);
            w.Line("return;");
            w.Close();
        }
        for (int i = 0; i < stateBuffers.Count; i++)
        {
            ParameterSpec b = stateBuffers[i];
            w.Line($"global::System.ReadOnlySpan<global::System.Memory<{t}>> __state{i} = __batch.State({i}, {Used(b)});");
        }
        string ListOf(ParameterSpec b) => b == param ? "__batch.Params" : b == grad ? "__batch.Grads" : $"__state{stateBuffers.IndexOf(b)}";
        string SpanOf(ParameterSpec b) => b == param ? "__batch.Params[__k].Span" : b == grad ? "__batch.Grads[__k].Span"
            : b.Guard is null ? $"{ListOf(b)}[__k].Span" : $"{ListOf(b)}.IsEmpty ? default : {ListOf(b)}[__k].Span";
        string ReadOnlyList(ParameterSpec b) => b == grad ? ListOf(b) : $"{CompilerServices}.MultiTensorStep.AsReadOnly({ListOf(b)})";
        if (rule.HasReductions)
        {
            // Each tensor reduces over itself: both passes tensor by tensor, each split across the batch's threads.
            w.Line("for (int __k = 0; __k < __batch.Count; __k++)");
            w.Line($"    __kernel.{kernel.RunTensor}({string.Join(", ", buffers.Select(SpanOf))}, __batch.Params[__k].Length, __batch.Threads);");
            foreach (string line in AfterStepLines(spec))
                w.Line(line);
            w.Close();
            w.Close();
            return;
        }
        w.Open("if (__batch.Threads <= 1)");
        w.Line("for (int __k = 0; __k < __batch.Count; __k++)");
        w.Line($"    __kernel.{kernel.Run}({string.Join(", ", buffers.Select(SpanOf))});");
        w.Close();
        w.Line("else");
        w.Line($"    {CompilerServices}.MultiTensorStep.Run<{t}, {kernelType}>(__kernel, __batch.Threads, {CompilerServices}.ParallelStep.ChunkAlignment, {string.Join(", ", buffers.Select(ReadOnlyList))});");
        foreach (string line in AfterStepLines(spec))
            w.Line(line);
        w.Close();
        if (lowPrecision)
            EmitLowPrecisionStep(w, spec, kernelType, buffers, param, grad, stateBuffers, layout, Used);
        w.Close();
    }

    /// <summary>
    /// The step over a batch of 16-bit parameters: the rule's storage kernel — the struct its storage overloads run — over
    /// the parameters (rounded to nearest or stochastically) or over their fp32 master copies (then rounded into the
    /// parameters), state in float or 8 bits; one tensor after another, or the batch's concatenation split over threads.
    /// </summary>
    private static void EmitLowPrecisionStep(SourceWriter w, OptimizerSpec spec, string kernelType, List<ParameterSpec> buffers,
        ParameterSpec param, ParameterSpec grad, List<ParameterSpec> stateBuffers, string layout, System.Func<ParameterSpec, string> used)
    {
        RuleSpec rule = spec.Rule;
        var names = new RuleEmitter.InternalNames(rule);
        var storage = new RuleEmitter.StorageKernel(rule, names);
        string batch = $"{CompilerServices}.OptimizerBatch<float>";
        string rounding = "global::Kernels.Precision.StochasticRounding";
        // The storage kernel instantiated for a parameter type and a gradient type, with float state.
        string KernelOf(string paramType, string gradType) =>
            $"{spec.ContainingType}.{storage.KernelType}<{string.Join(", ", storage.Groups.Select(g => g.Buffers.Contains(param) ? paramType : g.Buffers.Contains(grad) ? gradType : "float"))}>";
        string storageType = KernelOf("__TParam", "__TGrad");
        // With compensation the kernel updates a float parameter (p + c in scratch), reading 16-bit gradients.
        string compensatedType = KernelOf("float", "__TStorage");

        w.Line();
        w.Line("/// <summary>A batch of parameters stored as <typeparamref name=\"__TStorage\"/>: on the parameters themselves, on their fp32 master copies, or on the parameters with their compensation.</summary>");
        w.Open($"private static void __StepLowPrecision<__TStorage>({kernelType} __kernel, {batch} __batch) where __TStorage : unmanaged");
        w.Open("if (__batch.HasCompensation)");
        w.Line("// The rule on p + c, a block of 256 at a time in float scratch; then p = round(v), c = round(v - p).");
        w.Line($"var __compensated = new {compensatedType}(__kernel, default);");
        w.Line($"{CompilerServices}.BlockwiseStorageStep.Run<{compensatedType}, __TStorage, __TStorage>(__compensated, __batch, __batch.ParamsOf<__TStorage>(), __batch.GradsOf<__TStorage>(), new sbyte[] {{ {layout} }}, new bool[] {{ {string.Join(", ", stateBuffers.Select(used))} }}, __batch.CompensationOf<__TStorage>());");
        w.Line("return;");
        w.Close();
        w.Open("if (__batch.HasMasterWeights)");
        w.Line("// The rule on the fp32 copies (gradients widened as loaded), then each copy rounded to nearest into its parameter.");
        w.Line("__StepStorage<float, __TStorage>(__kernel, __batch, __batch.MasterWeights, __batch.GradsOf<__TStorage>(), default);");
        w.Line("__batch.StoreMasterWeights<__TStorage>();");
        w.Close();
        w.Line("else");
        w.Line("    __StepStorage<__TStorage, __TStorage>(__kernel, __batch, __batch.ParamsOf<__TStorage>(), __batch.GradsOf<__TStorage>(), __batch.Rounding);");
        w.Close();

        w.Line();
        w.Line("/// <summary>");
        w.Line("/// The rule's storage kernel over the batch, as its multi-tensor storage overload runs it: tensor <c>k</c>'s elements are");
        w.Line("/// elements <c>Positions[k]</c>… of the stochastic rounding's stream, whatever the thread count.");
        w.Line("/// </summary>");
        w.Line($"private static void __StepStorage<__TParam, __TGrad>({kernelType} __kernel, {batch} __batch, {ReadOnlySpan}<{Memory}<__TParam>> __params, {ReadOnlySpan}<{ReadOnlyMemory}<__TGrad>> __grads, {rounding} __rounding)");
        w.Open("    where __TParam : unmanaged where __TGrad : unmanaged");
        w.Line($"var __storage = new {storageType}(__kernel, __rounding);");
        if (stateBuffers.Count > 0)
        {
            w.Open("if (__batch.HasQuantizedState)");
            w.Line($"{CompilerServices}.BlockwiseStorageStep.Run<{storageType}, __TParam, __TGrad>(__storage, __batch, __params, __grads, new sbyte[] {{ {layout} }}, new bool[] {{ {string.Join(", ", stateBuffers.Select(used))} }});");
            w.Line("return;");
            w.Close();
        }
        for (int i = 0; i < stateBuffers.Count; i++)
            w.Line($"{ReadOnlySpan}<{Memory}<float>> __state{i} = __batch.State({i}, {used(stateBuffers[i])});");
        string ListOf(ParameterSpec b) => b == param ? "__params" : b == grad ? "__grads" : $"__state{stateBuffers.IndexOf(b)}";
        string SpanOf(ParameterSpec b) => b == param || b == grad || b.Guard is null ? $"{ListOf(b)}[__k].Span" : $"{ListOf(b)}.IsEmpty ? default : {ListOf(b)}[__k].Span";
        w.Open("if (__batch.Threads <= 1)");
        w.Line("for (int __k = 0; __k < __batch.Count; __k++)");
        w.Line($"    __storage.{names.Run}({string.Join(", ", buffers.Select(SpanOf))}, __batch.Positions[__k]);");
        w.Close();
        w.Open("else");
        w.Line($"using var __pinned = new {CompilerServices}.PinnedTensors(__batch.Count);");
        foreach (ParameterSpec b in buffers)
            w.Line($"__pinned.Add({(b == grad ? ListOf(b) : $"{CompilerServices}.MultiTensorStep.AsReadOnly({ListOf(b)})")});");
        w.Line($"{CompilerServices}.StorageStep.Run(__storage, __batch.Threads, {CompilerServices}.ParallelStep.ChunkAlignment, __pinned, __batch.Positions);");
        w.Close();
        w.Close();
    }

    /// <summary>The per-tensor values advanced after the step (the next step's).</summary>
    private static IEnumerable<string> AfterStepLines(OptimizerSpec spec)
    {
        for (int i = 0; i < spec.TensorState.Count; i++)
        {
            TensorStateSpec s = spec.TensorState[i];
            if (s.AfterStep)
                yield return $"__batch.SetTensorState({i}, {string.Format(s.UpdateCall, $"__tensorState{i}")});";
        }
    }

    private static int IndexOf<T>(Helpers.EquatableArray<T> items, System.Func<T, bool> predicate) where T : System.IEquatable<T>
    {
        for (int i = 0; i < items.Count; i++)
        {
            if (predicate(items[i]))
                return i;
        }
        return -1;
    }

    private static string Xml(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}

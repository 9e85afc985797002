using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// Writes a rule's optimizer object: a nested options class (one property per hyperparameter, the rule's defaults, by
/// name for schedules and checkpoints) and a nested optimizer class over <c>Kernels.Training.Optimizer&lt;T, TOptions&gt;</c>
/// whose step prepares the rule's kernel once per batch of tensors and runs it over all of them, state buffers allocated
/// by the runtime on first use (never for a buffer the configuration does not touch).
/// </summary>
internal static class OptimizerEmitter
{
    private const string Training = "global::Kernels.Training";
    private const string CompilerServices = "global::Kernels.CompilerServices";

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
        // 8-bit state runs the float kernel on dequantized blocks: float rules only, and not yet a rule with reductions.
        bool quantizable = t == "float" && !spec.Rule.HasReductions;

        w.Line("/// <summary>");
        w.Line($"/// An optimizer that runs the update rule <c>{RuleText(spec)}</c> over parameter groups, as a <c>torch.optim</c> optimizer does:");
        w.Line("/// per-parameter state allocated on first use, step counts, <c>Step()</c> over every group in one fused multi-tensor pass,");
        w.Line("/// <c>ClipGradNorm</c> applied inside that pass, <c>StateDict()</c>/<c>LoadStateDict()</c>.");
        w.Line("/// </summary>");
        w.Line(EmitterCommon.GeneratedCode);
        w.Open($"{spec.Accessibility} sealed class {spec.TypeName} : {Training}.Optimizer<{t}, {options}>");
        w.Line($"private static readonly string[] __state = {{ {string.Join(", ", stateBuffers.Select(b => "\"" + EmitterCommon.Raw(b.Name) + "\""))} }};");
        if (spec.TensorState.Count > 0)
            w.Line($"private static readonly string[] __tensorState = {{ {string.Join(", ", spec.TensorState.Select(s => "\"" + EmitterCommon.Raw(s.Name) + "\""))} }};");
        w.Line();

        // Constructor: one group over the parameters, hyperparameters as named arguments with the rule's defaults.
        w.Line("/// <summary>Creates the optimizer with one parameter group (add more with <c>AddParamGroup</c>).</summary>");
        w.Line($"/// <param name=\"{parameters}\">The parameters of the first group.</param>");
        foreach (HyperparameterSpec h in spec.Hyperparameters)
            w.Line($"/// <param name=\"{EmitterCommon.Raw(h.Name)}\">{h.Documentation ?? "Hyperparameter of the rule."}</param>");
        w.Line($"/// <param name=\"{stepOptions}\">Threading of the fused step.</param>");
        if (quantizable)
            w.Line($"/// <param name=\"{statePrecision}\">How state buffers are stored (default: float; 8-bit blockwise with <c>StatePrecision.Blockwise8Bit()</c>).</param>");
        var ctorParameters = new List<string> { $"global::System.Collections.Generic.IEnumerable<{Training}.Parameter<{t}>> {parameters}" };
        ctorParameters.AddRange(spec.Hyperparameters.Select(h => $"{h.TypeName} {h.Name}{(h.DefaultValue is null ? "" : " = " + h.DefaultValue)}"));
        ctorParameters.Add($"global::Kernels.StepOptions {stepOptions} = default");
        if (quantizable)
            ctorParameters.Add($"{Training}.StatePrecision? {statePrecision} = null");
        w.Line($"public {spec.TypeName}({string.Join(", ", ctorParameters)})");
        string initializers = string.Join(", ", spec.Hyperparameters.Select(h => $"{h.Property} = {h.Name}"));
        w.Line($"    : base({parameters}, new {options} {{ {initializers} }}, {stepOptions}{(quantizable ? ", " + statePrecision : "")})");
        w.Line("{");
        w.Line("}");
        w.Line();

        w.Line("/// <inheritdoc/>");
        w.Line($"public override string RuleName => \"{spec.RuleName}\";");
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Line("protected override string[] StateBufferNames => __state;");
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
        if (quantizable && stateBuffers.Count > 0)
        {
            // Some state in 8 bits: block by block through the same kernel (dequantize, run, re-quantize).
            string layout = string.Join(", ", buffers.Select(b => b == param ? "-1" : b == grad ? "-2" : stateBuffers.IndexOf(b).ToString(System.Globalization.CultureInfo.InvariantCulture)));
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

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kernels.Precision;
using Kernels.Training.Checkpoints;
using Kernels.Training.Schedules;

namespace Kernels.Training;

/// <summary>
/// Saves and restores a training run: the parameters' values, the optimizer's state dict and the schedules' states, in
/// one crash-safe safetensors file (<see cref="CheckpointFile"/>: temporary file, flush, atomic rename; version and
/// CRC-64 checked on load) that Python's <c>safetensors</c> reads too.
/// </summary>
/// <remarks>
/// <para>
/// Layout: tensor <c>param.{name}</c> per parameter (its values), <c>state.{index}.{buffer}</c> per allocated state
/// buffer (PyTorch's names: <c>state.0.exp_avg</c>). A parameter is stored in its own dtype (<c>F32</c>, <c>F64</c>, <c>BF16</c>,
/// <c>F16</c>); its state in the optimizer's (<c>F32</c> for a 16-bit parameter of a float rule, its fp32 master copy
/// <c>state.{index}.master</c> included), 8-bit state as <c>U8</c> codes with <c>F32</c> block scales; metadata <c>kernels.optimizer</c> (the rule),
/// <c>kernels.optimizer_state</c> (JSON: <c>param_groups</c> with hyperparameters under PyTorch's snake_case names and
/// <c>params</c> indices, per-parameter <c>step</c> and carried values, the parameters' names and shapes) and
/// <c>kernels.schedules</c> (JSON array of the schedules' state dicts).
/// </para>
/// <para>
/// <see cref="Load"/> checks the whole file against the optimizer and schedules before changing anything; a truncated,
/// corrupted or mismatched file throws <see cref="InvalidDataException"/> and leaves the parameters, optimizer and
/// schedules exactly as they were.
/// </para>
/// </remarks>
public static class Checkpoint
{
    private const string OptimizerKey = "kernels.optimizer";
    private const string StateKey = "kernels.optimizer_state";
    private const string SchedulesKey = "kernels.schedules";
    private const string AbsMaxSuffix = ".absmax";

    /// <summary>Writes the run to <paramref name="path"/> (replacing it atomically).</summary>
    /// <param name="path">The checkpoint file; its directory must exist.</param>
    /// <param name="optimizer">The optimizer (its parameters' values are saved with it).</param>
    /// <param name="schedules">The schedules driving it, in an order <see cref="Load"/> will be given again.</param>
    public static void Save(string path, Optimizer optimizer, params ISchedule[] schedules)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(schedules);
        OptimizerStateDict state = optimizer.StateDict();
        var file = new SafeTensorsFile();
        for (int i = 0; i < optimizer.Parameters.Count; i++)
            AddTensor(file, "param." + optimizer.Parameters[i].Name, optimizer.Parameters[i]);
        for (int i = 0; i < state.State.Count; i++)
        {
            if (state.State[i] is not { } s)
                continue;
            foreach ((string name, Array data) in s.Buffers)
            {
                // An 8-bit buffer: its codes (U8, the parameter's shape) and its block scales (F32, one per 256 elements).
                bool scales = name.EndsWith(AbsMaxSuffix, StringComparison.Ordinal);
                string tensor = scales
                    ? $"state.{i}.{Hyperparameters.ToSnakeCase(name[..^AbsMaxSuffix.Length])}{AbsMaxSuffix}"
                    : $"state.{i}.{Hyperparameters.ToSnakeCase(name)}";
                AddArray(file, tensor, data, scales ? new[] { data.Length } : state.Parameters[i].Shape);
            }
        }
        file.Metadata[OptimizerKey] = state.Optimizer;
        file.Metadata[StateKey] = StateJson(state).ToJsonString();
        var array = new JsonArray();
        foreach (ISchedule schedule in schedules)
            array.Add(schedule.StateDict());
        file.Metadata[SchedulesKey] = array.ToJsonString();
        CheckpointFile.Save(path, file);
    }

    /// <summary>
    /// Restores a run saved by <see cref="Save"/> into <paramref name="optimizer"/> (same rule, parameters of the same
    /// names and shapes in the same groups) and <paramref name="schedules"/> (same kinds, same order): the parameters'
    /// values, the optimizer's state and hyperparameters, the schedules' states.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is damaged, of another format version, or does not fit; nothing was changed.</exception>
    public static void Load(string path, Optimizer optimizer, params ISchedule[] schedules)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(schedules);
        SafeTensorsFile file = CheckpointFile.Load(path);   // structure, version and checksum, before anything else

        // Read and check everything into new objects.
        OptimizerStateDict state;
        JsonObject[] scheduleStates;
        var values = new Array[optimizer.Parameters.Count];
        try
        {
            string rule = Metadata(file, OptimizerKey);
            if (rule != optimizer.RuleName)
                throw new InvalidDataException($"the checkpoint is of optimizer '{rule}', not '{optimizer.RuleName}'");
            state = ReadState(file, rule, optimizer);
            for (int i = 0; i < optimizer.Parameters.Count; i++)
                values[i] = ReadArray(file, "param." + optimizer.Parameters[i].Name, optimizer.Parameters[i]);
            JsonArray saved = JsonNode.Parse(Metadata(file, SchedulesKey)) as JsonArray
                ?? throw new InvalidDataException($"'{SchedulesKey}' is not a JSON array");
            if (saved.Count != schedules.Length)
                throw new InvalidDataException($"the checkpoint holds {saved.Count} schedules; {schedules.Length} were given");
            scheduleStates = saved.Select(n => n as JsonObject ?? throw new InvalidDataException("a schedule's state is not a JSON object")).ToArray();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new InvalidDataException($"Checkpoint '{path}' cannot be read: {e.Message}", e);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Checkpoint '{path}' does not fit: {e.Message}", e);
        }

        // Apply, keeping what was there: a schedule that rejects its state puts everything back.
        OptimizerStateDict previousState = optimizer.StateDict();
        Array[] previousValues = optimizer.Parameters.Select(Snapshot).ToArray();
        JsonObject[] previousSchedules = schedules.Select(s => s.StateDict()).ToArray();
        try
        {
            optimizer.LoadStateDict(state);
            for (int i = 0; i < values.Length; i++)
                Restore(optimizer.Parameters[i], values[i]);
            for (int k = 0; k < schedules.Length; k++)
                schedules[k].LoadStateDict(scheduleStates[k]);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or JsonException)
        {
            optimizer.LoadStateDict(previousState);
            for (int i = 0; i < previousValues.Length; i++)
                Restore(optimizer.Parameters[i], previousValues[i]);
            for (int k = 0; k < schedules.Length; k++)
                schedules[k].LoadStateDict(previousSchedules[k]);
            throw new InvalidDataException($"Checkpoint '{path}' does not fit: {e.Message}", e);
        }
    }

    private static string Metadata(SafeTensorsFile file, string key) =>
        file.Metadata.TryGetValue(key, out string? value) ? value : throw new InvalidDataException($"metadata '{key}' is missing");

    private static JsonObject StateJson(OptimizerStateDict state)
    {
        var groups = new JsonArray();
        foreach (ParamGroupState g in state.ParamGroups)
        {
            var group = new JsonObject();
            foreach ((string name, double value) in g.Hyperparameters)
                group[Hyperparameters.ToSnakeCase(name)] = Number(value);
            group["params"] = new JsonArray(g.Parameters.Select(i => (JsonNode)JsonValue.Create(i)).ToArray());
            groups.Add(group);
        }
        var perParameter = new JsonObject();
        for (int i = 0; i < state.State.Count; i++)
        {
            if (state.State[i] is not { } s)
                continue;
            var entry = new JsonObject { ["step"] = s.Step };
            foreach ((string name, double value) in s.TensorState)
                entry[Hyperparameters.ToSnakeCase(name)] = Number(value);
            perParameter[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = entry;
        }
        var parameters = new JsonArray(state.Parameters.Select(p => (JsonNode)new JsonObject
        {
            ["name"] = p.Name,
            ["shape"] = new JsonArray(p.Shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
            ["dtype"] = p.ElementType == typeof(double) ? "F64" : p.ElementType == typeof(BFloat16) ? "BF16" : p.ElementType == typeof(Half) ? "F16" : "F32",
        }).ToArray());
        return new JsonObject { ["param_groups"] = groups, ["state"] = perParameter, ["parameters"] = parameters };
    }

    /// <summary>A double in JSON, exactly (R format); NaN and infinities, which JSON has no numbers for, as strings.</summary>
    private static JsonNode Number(double value) =>
        double.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture));

    private static double ReadNumber(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out double d) => d,
        JsonValue v when v.TryGetValue(out string? s) && double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d) => d,
        _ => throw new InvalidDataException($"'{node?.ToJsonString()}' is not a number"),
    };

    private static OptimizerStateDict ReadState(SafeTensorsFile file, string rule, Optimizer optimizer)
    {
        JsonObject root = JsonNode.Parse(Metadata(file, StateKey)) as JsonObject ?? throw new InvalidDataException($"'{StateKey}' is not a JSON object");
        JsonArray parameters = root["parameters"] as JsonArray ?? throw new InvalidDataException("the parameter list is missing");
        var descriptions = new List<ParameterDescription>();
        foreach (JsonNode? p in parameters)
        {
            string name = p?["name"]?.GetValue<string>() ?? throw new InvalidDataException("a parameter has no name");
            int[] shape = (p["shape"] as JsonArray ?? throw new InvalidDataException($"parameter '{name}' has no shape")).Select(d => d!.GetValue<int>()).ToArray();
            Type type = p["dtype"]?.GetValue<string>() switch
            {
                "F32" => typeof(float),
                "F64" => typeof(double),
                "BF16" => typeof(BFloat16),
                "F16" => typeof(Half),
                var other => throw new InvalidDataException($"parameter '{name}' has dtype '{other}'"),
            };
            descriptions.Add(new ParameterDescription(name, shape, type));
        }
        var groups = new List<ParamGroupState>();
        foreach (JsonNode? g in root["param_groups"] as JsonArray ?? throw new InvalidDataException("the parameter groups are missing"))
        {
            if (g is not JsonObject group)
                throw new InvalidDataException("a parameter group is not a JSON object");
            var hyperparameters = new Dictionary<string, double>(StringComparer.Ordinal);
            int[] members = Array.Empty<int>();
            foreach ((string key, JsonNode? value) in group)
            {
                if (key == "params")
                    members = (value as JsonArray ?? throw new InvalidDataException("'params' is not an array")).Select(i => i!.GetValue<int>()).ToArray();
                else
                    hyperparameters[key] = ReadNumber(value);
            }
            groups.Add(new ParamGroupState(hyperparameters, members));
        }
        JsonObject perParameter = root["state"] as JsonObject ?? throw new InvalidDataException("the per-parameter state is missing");
        var states = new ParameterState?[descriptions.Count];
        foreach ((string key, JsonNode? value) in perParameter)
        {
            if (!int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index) || index >= states.Length)
                throw new InvalidDataException($"state for parameter '{key}', which does not exist");
            if (value is not JsonObject entry)
                throw new InvalidDataException($"the state of parameter {index} is not a JSON object");
            long step = entry["step"]?.GetValue<long>() ?? throw new InvalidDataException($"parameter {index} has no step count");
            var tensorState = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach ((string name, JsonNode? v) in entry)
            {
                if (name != "step")
                    tensorState[CamelCase(name)] = ReadNumber(v);
            }
            var buffers = new Dictionary<string, Array>(StringComparer.Ordinal);
            if (index < optimizer.Parameters.Count)
            {
                foreach (string buffer in optimizer.StateNames)
                {
                    string tensor = $"state.{index}.{Hyperparameters.ToSnakeCase(buffer)}";
                    if (!file.Contains(tensor))
                        continue;
                    buffers[buffer] = ReadState(file, tensor, optimizer.Parameters[index]);
                    if (buffers[buffer] is byte[] codes)
                    {
                        // 8-bit state: its block scales come with it.
                        if (!file.TryGetTensor(tensor + AbsMaxSuffix, out TensorEntry? scales) || scales.DType != TensorDType.Float32
                            || scales.Shape.Count != 1 || scales.Shape[0] != Precision.BlockwiseQuantizer.BlockCount(codes.Length))
                            throw new InvalidDataException($"tensor '{tensor}' is 8-bit but '{tensor}{AbsMaxSuffix}' (F32, one scale per 256 elements) is missing or malformed");
                        buffers[buffer + AbsMaxSuffix] = scales.ToArray<float>();
                    }
                }
            }
            states[index] = new ParameterState(step, buffers, tensorState);
        }
        // A state tensor the optimizer does not know is a mismatch, not something to skip silently.
        foreach (TensorEntry t in file.Tensors.Where(t => t.Name.StartsWith("state.", StringComparison.Ordinal)))
        {
            string[] parts = t.Name.Split('.', 3);
            string buffer = parts.Length == 3 && parts[2].EndsWith(AbsMaxSuffix, StringComparison.Ordinal) ? parts[2][..^AbsMaxSuffix.Length] : parts.Length == 3 ? parts[2] : "";
            if (parts.Length != 3 || !optimizer.StateNames.Any(n => Hyperparameters.ToSnakeCase(n) == buffer))
                throw new InvalidDataException($"tensor '{t.Name}' is no state buffer of this optimizer ({string.Join(", ", optimizer.StateNames)})");
        }
        return new OptimizerStateDict { Optimizer = rule, Parameters = descriptions, ParamGroups = groups, State = states };
    }

    /// <summary><c>mu_product</c> → <c>muProduct</c> (the rule's spelling of a carried value).</summary>
    private static string CamelCase(string snake)
    {
        var builder = new System.Text.StringBuilder(snake.Length);
        bool upper = false;
        foreach (char c in snake)
        {
            if (c == '_')
            {
                upper = builder.Length > 0;
                continue;
            }
            builder.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }
        return builder.ToString();
    }

    private static void AddTensor(SafeTensorsFile file, string name, Parameter p)
    {
        int[] shape = p.Shape.ToArray();
        if (p is Parameter<float> f)
            file.Add<float>(name, f.Data.Span, shape);
        else if (p is Parameter<double> d)
            file.Add<double>(name, d.Data.Span, shape);
        else if (p is Parameter<BFloat16> b)
            file.Add<ushort>(name, TensorDType.BFloat16, MemoryMarshal.Cast<BFloat16, ushort>(b.Data.Span), shape);
        else if (p is Parameter<Half> h)
            file.Add<Half>(name, h.Data.Span, shape);
        else
            throw new NotSupportedException($"Parameter '{p.Name}' of {p.ElementType.Name} cannot be saved.");
    }

    private static void AddArray(SafeTensorsFile file, string name, Array data, IReadOnlyList<int> shape)
    {
        if (data is float[] f)
            file.Add<float>(name, f, shape.ToArray());
        else if (data is double[] d)
            file.Add<double>(name, d, shape.ToArray());
        else if (data is byte[] b)
            file.Add<byte>(name, b, shape.ToArray());
        else if (data is BFloat16[] bf)
            file.Add<ushort>(name, TensorDType.BFloat16, MemoryMarshal.Cast<BFloat16, ushort>(bf), shape.ToArray());
        else if (data is Half[] h)
            file.Add<Half>(name, h, shape.ToArray());
        else
            throw new NotSupportedException($"State '{name}' of {data.GetType().Name} cannot be saved.");
    }

    private static Array ReadArray(SafeTensorsFile file, string name, Parameter p)
    {
        if (!file.TryGetTensor(name, out TensorEntry? t))
            throw new InvalidDataException($"tensor '{name}' is missing");
        if (!t.Shape.SequenceEqual(p.Shape))
            throw new InvalidDataException($"tensor '{name}' has shape [{string.Join(", ", t.Shape)}]; parameter '{p.Name}' has [{string.Join(", ", p.Shape)}]");
        if (p.ElementType == typeof(float) && t.DType == TensorDType.Float32)
            return t.ToArray<float>();
        if (p.ElementType == typeof(double) && t.DType == TensorDType.Float64)
            return t.ToArray<double>();
        if (p.ElementType == typeof(BFloat16) && t.DType == TensorDType.BFloat16)
            return MemoryMarshal.Cast<ushort, BFloat16>(t.ToArray<ushort>()).ToArray();
        if (p.ElementType == typeof(Half) && t.DType == TensorDType.Float16)
            return t.ToArray<Half>();
        throw new InvalidDataException($"tensor '{name}' is {t.DType}; parameter '{p.Name}' is {p.ElementType.Name}");
    }

    /// <summary>
    /// A state buffer: in the optimizer's element type (float for a 16-bit parameter, which only float rules take), 8-bit
    /// codes, or the parameter's own 16-bit type (its compensation).
    /// </summary>
    private static Array ReadState(SafeTensorsFile file, string name, Parameter p)
    {
        if (!file.TryGetTensor(name, out TensorEntry? t))
            throw new InvalidDataException($"tensor '{name}' is missing");
        if (!t.Shape.SequenceEqual(p.Shape))
            throw new InvalidDataException($"tensor '{name}' has shape [{string.Join(", ", t.Shape)}]; parameter '{p.Name}' has [{string.Join(", ", p.Shape)}]");
        bool floatState = p.ElementType != typeof(double);
        if (floatState && t.DType == TensorDType.Float32)
            return t.ToArray<float>();
        if (!floatState && t.DType == TensorDType.Float64)
            return t.ToArray<double>();
        if (floatState && t.DType == TensorDType.UInt8)
            return t.ToArray<byte>();   // 8-bit state codes
        if (p.ElementType == typeof(BFloat16) && t.DType == TensorDType.BFloat16)
            return MemoryMarshal.Cast<ushort, BFloat16>(t.ToArray<ushort>()).ToArray();   // a compensation buffer
        if (p.ElementType == typeof(Half) && t.DType == TensorDType.Float16)
            return t.ToArray<Half>();
        throw new InvalidDataException($"tensor '{name}' is {t.DType}; the state of parameter '{p.Name}' ({p.ElementType.Name}) is {(floatState ? "F32 (or U8 codes)" : "F64")}");
    }

    private static Array Snapshot(Parameter p) => p switch
    {
        Parameter<float> f => f.Data.ToArray(),
        Parameter<double> d => d.Data.ToArray(),
        Parameter<BFloat16> b => b.Data.ToArray(),
        Parameter<Half> h => h.Data.ToArray(),
        _ => throw new NotSupportedException(),
    };

    private static void Restore(Parameter p, Array values)
    {
        if (p is Parameter<float> f)
            ((float[])values).CopyTo(f.Data.Span);
        else if (p is Parameter<double> d)
            ((double[])values).CopyTo(d.Data.Span);
        else if (p is Parameter<BFloat16> b)
            ((BFloat16[])values).CopyTo(b.Data.Span);
        else if (p is Parameter<Half> h)
            ((Half[])values).CopyTo(h.Data.Span);
    }
}

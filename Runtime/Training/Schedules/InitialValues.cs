using System.Collections.Generic;
using System.Runtime.CompilerServices;

namespace Kernels.Training.Schedules;

/// <summary>
/// PyTorch's <c>param_group["initial_lr"]</c>, for any hyperparameter: the first schedule built on an optimizer records
/// each group's value here (<c>group.setdefault("initial_lr", group["lr"])</c>), and every later schedule on the same
/// optimizer and hyperparameter takes its base values from it. <see cref="IParamGroup"/> has no place for it, so it
/// lives beside the optimizer, for as long as the optimizer does.
/// </summary>
internal static class InitialValues
{
    private static readonly ConditionalWeakTable<IOptimizer, Dictionary<(int Group, string Name), double>> s_table = new();

    /// <summary>The recorded value, recording <paramref name="current"/> first if there is none (Python's <c>setdefault</c>).</summary>
    public static double GetOrAdd(IOptimizer optimizer, int group, string hyperparameter, double current)
    {
        var values = s_table.GetValue(optimizer, _ => new Dictionary<(int, string), double>());
        lock (values)
        {
            var key = (group, Canonical(hyperparameter));
            if (!values.TryGetValue(key, out double value))
                values[key] = value = current;
            return value;
        }
    }

    /// <summary>Records <paramref name="value"/>, replacing what was there (OneCycleLR sets <c>initial_lr</c> outright).</summary>
    public static void Set(IOptimizer optimizer, int group, string hyperparameter, double value)
    {
        var values = s_table.GetValue(optimizer, _ => new Dictionary<(int, string), double>());
        lock (values)
            values[(group, Canonical(hyperparameter))] = value;
    }

    /// <summary>
    /// The spelling that identifies a hyperparameter whichever way it is written: the rule's name (<c>weightDecay</c>)
    /// and PyTorch's (<c>weight_decay</c>) name the same one.
    /// </summary>
    public static string Canonical(string hyperparameter) => hyperparameter.Replace("_", "").ToLowerInvariant();
}

using System;
using System.Collections.Generic;
using System.ComponentModel;

namespace Kernels.Training;

/// <summary>
/// The hyperparameters of one parameter group: the base of each generated <c>Options</c> class, which adds them as
/// strongly typed properties with the rule's defaults. This base gives them by name for schedules and checkpoints.
/// </summary>
/// <remarks>
/// Names are the rule's parameter names (<c>weightDecay</c>); PyTorch's snake_case spelling (<c>weight_decay</c>) and
/// any casing are accepted. Only numeric and <see cref="bool"/> hyperparameters are visible by name (a bool reads as
/// 0 or 1; setting it: any non-zero value is true).
/// </remarks>
public abstract class Hyperparameters
{
    /// <summary>The names of the hyperparameters visible by name, as the rule declares them.</summary>
    public abstract IReadOnlyList<string> Names { get; }

    /// <summary>Whether a hyperparameter named <paramref name="name"/> (any spelling) exists.</summary>
    public bool Contains(string name) => name is not null && Resolve(name) >= 0;

    /// <summary>Gets or sets a hyperparameter by name.</summary>
    /// <exception cref="ArgumentException">No hyperparameter of that name, or the value does not fit its type (an integer one needs a whole number).</exception>
    public double this[string name]
    {
        get => GetValue(Require(name));
        set => SetValue(Require(name), value);
    }

    /// <summary>A copy with the same values (a new group starts from a copy of the optimizer's defaults).</summary>
    public Hyperparameters Copy() => (Hyperparameters)MemberwiseClone();

    /// <summary>Reads hyperparameter <paramref name="index"/> of <see cref="Names"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected abstract double GetValue(int index);

    /// <summary>Writes hyperparameter <paramref name="index"/> of <see cref="Names"/>, checked by <see cref="ToInt32"/>, <see cref="ToInt64"/> where integral.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected abstract void SetValue(int index, double value);

    /// <summary>A value for an <see cref="int"/> hyperparameter: a whole number in range, or an exception naming it.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected int ToInt32(int index, double value)
    {
        if (value != Math.Floor(value) || value < int.MinValue || value > int.MaxValue)
            throw new ArgumentException($"Hyperparameter '{Names[index]}' is an int; {value} is not a whole number in its range.", "value");
        return (int)value;
    }

    /// <summary>A value for a <see cref="long"/> hyperparameter: a whole number in range, or an exception naming it.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected long ToInt64(int index, double value)
    {
        if (value != Math.Floor(value) || value < long.MinValue || value >= 9.2233720368547758E18)
            throw new ArgumentException($"Hyperparameter '{Names[index]}' is a long; {value} is not a whole number in its range.", "value");
        return (long)value;
    }

    /// <summary>The index in <see cref="Names"/> of <paramref name="name"/>, matched ignoring case and underscores; -1 if none.</summary>
    public int Resolve(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        IReadOnlyList<string> names = Names;
        for (int i = 0; i < names.Count; i++)
        {
            if (string.Equals(names[i], name, StringComparison.Ordinal))
                return i;
        }
        string key = Normalize(name);
        for (int i = 0; i < names.Count; i++)
        {
            if (Normalize(names[i]) == key)
                return i;
        }
        return -1;
    }

    private int Require(string name)
    {
        int index = Resolve(name);
        if (index < 0)
            throw new ArgumentException($"No hyperparameter named '{name}'; this group has: {string.Join(", ", Names)}.", nameof(name));
        return index;
    }

    private static string Normalize(string name) => name.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>PyTorch's spelling of a rule name: <c>weightDecay</c> → <c>weight_decay</c>, <c>beta1</c> → <c>beta1</c>.</summary>
    public static string ToSnakeCase(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var builder = new System.Text.StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0 && name[i - 1] != '_')
                    builder.Append('_');
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }
}

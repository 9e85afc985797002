using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training;

namespace Kernels.Tests.Training.Schedules;

/// <summary>
/// An optimizer that is only its parameter groups: each group a dictionary of hyperparameters. Names resolve as
/// <see cref="IParamGroup"/> says they do (<c>weight_decay</c> finds <c>weightDecay</c>).
/// </summary>
internal sealed class FakeOptimizer : IOptimizer
{
    private readonly List<FakeGroup> _groups;

    public FakeOptimizer(params Dictionary<string, double>[] groups) => _groups = groups.Select(g => new FakeGroup(g)).ToList();

    /// <summary>Groups with the given learning rates and an SGD-like set of other hyperparameters.</summary>
    public static FakeOptimizer Sgd(params double[] lrs) =>
        new(lrs.Select(lr => new Dictionary<string, double> { ["lr"] = lr, ["momentum"] = 0.9, ["weightDecay"] = 0.01 }).ToArray());

    /// <summary>Groups with the given learning rates and Adam's hyperparameters (<c>beta1</c>, <c>beta2</c>).</summary>
    public static FakeOptimizer Adam(params double[] lrs) =>
        new(lrs.Select(lr => new Dictionary<string, double> { ["lr"] = lr, ["beta1"] = 0.9, ["beta2"] = 0.999, ["weightDecay"] = 0.01 }).ToArray());

    public IReadOnlyList<IParamGroup> ParamGroups => _groups;

    public FakeGroup this[int group] => _groups[group];

    public int Steps { get; private set; }

    public void Step() => Steps++;

    public void ZeroGrad()
    {
    }

    /// <summary>Every hyperparameter of every group, in order (what an optimizer checkpoint holds of them).</summary>
    public double[][] Snapshot() => _groups.Select(g => g.Values.ToArray()).ToArray();

    public void AddGroup(Dictionary<string, double> values) => _groups.Add(new FakeGroup(values));

    public void Restore(double[][] snapshot)
    {
        for (int i = 0; i < _groups.Count; i++)
            _groups[i].SetAll(snapshot[i]);
    }

    internal sealed class FakeGroup(Dictionary<string, double> values) : IParamGroup
    {
        private readonly string[] _names = values.Keys.ToArray();
        private readonly double[] _values = values.Values.ToArray();

        public IReadOnlyList<Parameter> Parameters => [];

        public IReadOnlyList<string> HyperparameterNames => _names;

        public IReadOnlyList<double> Values => _values;

        /// <summary>How many times a value was set.</summary>
        public int Writes { get; private set; }

        public bool Contains(string name) => IndexOf(name) >= 0;

        public double this[string name]
        {
            get => _values[Find(name)];
            set
            {
                _values[Find(name)] = value;
                Writes++;
            }
        }

        public void SetAll(double[] values) => values.CopyTo(_values, 0);

        private int Find(string name) => IndexOf(name) is int i and >= 0 ? i : throw new ArgumentException($"No hyperparameter '{name}'.", nameof(name));

        private int IndexOf(string name)
        {
            string canonical = name.Replace("_", "").ToLowerInvariant();
            return Array.FindIndex(_names, n => n.ToLowerInvariant() == canonical);
        }
    }
}

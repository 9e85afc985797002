using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Kernels.Generator.Diagnostics;
using Kernels.Generator.Helpers;
using Kernels.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator.Lowering;

/// <summary>Which buffers the rule touches, and under which uniform conditions (their guards).</summary>
internal sealed partial class RuleLowerer
{
    /// <summary>Whether the rule reads / writes a buffer, and the hoisted bool guarding every access (null: always touched).</summary>
    public (bool Read, bool Written, string? Guard) BufferAccess(string name)
    {
        BufferUse use = _bufferUse[name];
        List<HashSet<(string Condition, bool WhenTrue)>>? paths = use.Unconditional ? null : Simplify(use.Paths);
        if (paths is null || paths.Count == 0 || paths.Any(p => p.Count == 0))
            return (use.Read, use.Written, null);
        return (use.Read, use.Written, GuardFor(name, paths));
    }

    /// <summary>
    /// Simplifies the disjunction of the uniform paths under which a buffer is touched: a path implied by
    /// a shorter one goes (`a &amp;&amp; b` is covered by `a`), and two paths that differ only in one
    /// condition's polarity merge (`a &amp;&amp; c` or `!a &amp;&amp; c` is `c`; `a` or `!a` is always).
    /// </summary>
    private static List<HashSet<(string Condition, bool WhenTrue)>> Simplify(List<(string Condition, bool WhenTrue)[]> raw)
    {
        var paths = raw.Select(p => new HashSet<(string, bool)>(p)).ToList();
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int i = 0; i < paths.Count && !changed; i++)
            {
                for (int j = 0; j < paths.Count && !changed; j++)
                {
                    if (i == j)
                        continue;
                    HashSet<(string, bool)> a = paths[i], b = paths[j];
                    if (a.IsSubsetOf(b))
                    {
                        paths.RemoveAt(j);
                        changed = true;
                    }
                    else if (a.Count == b.Count && a.Except(b).Count() == 1)
                    {
                        (string condition, bool whenTrue) = a.Except(b).Single();
                        if (b.Contains((condition, !whenTrue)) && b.Except(a).Count() == 1)
                        {
                            var merged = new HashSet<(string, bool)>(a);
                            merged.Remove((condition, whenTrue));
                            paths[i] = merged;
                            paths.RemoveAt(j);
                            changed = true;
                        }
                    }
                }
            }
        }
        return paths;
    }

    private readonly Dictionary<string, string> _guards = new();

    private string GuardFor(string buffer, List<HashSet<(string Condition, bool WhenTrue)>> paths)
    {
        if (_guards.TryGetValue(buffer, out string? existing))
            return existing;
        // Touched exactly when one hoisted condition holds (`if (amsgrad)`): that condition is the guard.
        if (paths.Count == 1 && paths[0].Count == 1 && paths[0].Single() is (string condition, true))
            return _guards[buffer] = condition;
        List<string> terms = paths.Select(p => PathText(p.OrderBy(c => c.Condition, System.StringComparer.Ordinal))).ToList();
        string expression = string.Join(" || ", terms.Select(t => terms.Count > 1 && t.Contains("&&") ? "(" + t + ")" : t));
        string name = _names.ClaimName("uses" + char.ToUpperInvariant(buffer.TrimStart('@')[0]) + buffer.TrimStart('@').Substring(1));
        _prologue.Add($"bool {name} = {expression};");
        _guards[buffer] = name;
        AddKernelInput(name, "bool");
        return name;
    }


    private void MarkRead(string name)
    {
        if (_bufferUse.TryGetValue(name, out BufferUse? use))
        {
            use.Read = true;
            Touch(use);
        }
    }

    private void MarkWritten(string name)
    {
        if (_bufferUse.TryGetValue(name, out BufferUse? use))
        {
            use.Written = true;
            Touch(use);
        }
    }

    private void Touch(BufferUse use)
    {
        if (_uniformPath.Count == 0)
            use.Unconditional = true;
        else
            use.Paths.Add(_uniformPath.ToArray());
    }
}

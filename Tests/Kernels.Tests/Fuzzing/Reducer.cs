using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Linq;

namespace Kernels.Tests.Fuzzing;

/// <summary>
/// Structural minimization of a failing rule: greedily tries smaller rules (a statement removed, an <c>if</c>
/// flattened, an expression replaced by a same-typed child or a literal, a parameter or a type level dropped)
/// and keeps each one that still fails with the same bug class. CsCheck shrinks a whole batch; this points
/// at one small rule.
/// </summary>
public static class Reducer
{
    public static Rule Minimize(Rule rule, Func<Rule, bool> stillFails, TimeSpan budget)
    {
        var clock = Stopwatch.StartNew();
        bool progress = true;
        while (progress && clock.Elapsed < budget)
        {
            progress = false;
            foreach (Rule candidate in Candidates(rule))
            {
                if (clock.Elapsed >= budget) break;
                if (candidate.Print().Length >= rule.Print().Length) continue;
                if (stillFails(candidate))
                {
                    rule = candidate;
                    progress = true;
                    break;
                }
            }
        }
        return rule;
    }

    private static IEnumerable<Rule> Candidates(Rule r)
    {
        // Declarations first: they cut the most text.
        if (r.Namespace is not null) yield return r with { Namespace = null };
        if (r.Types.Length > 1) yield return r with { Types = r.Types.RemoveAt(0) };
        foreach (ImmutableArray<Stmt> body in Bodies(r.Body))
            yield return r with { Body = body, ExpressionBodied = r.ExpressionBodied && body.Length == 1 };
        for (int i = 0; i < r.Params.Length; i++)
            if (r.Params[i].Kind != ParamKind.Ref || r.Params.Count(p => p.Kind == ParamKind.Ref) > 1)
                yield return r with { Params = r.Params.RemoveAt(i) };
        for (int i = 0; i < r.Params.Length; i++)
            if (r.Params[i].Default is not null)
                yield return r with { Params = r.Params.SetItem(i, r.Params[i] with { Default = null }) };
        if (r.Types.Any(t => t.Name != "R" || t.Kind != "class"))
            yield return r with { Types = r.Types.Select((t, i) => t with { Name = "R" + (i == 0 ? "" : i.ToString()), Kind = "class" }).ToImmutableArray() };
        if (r.Method != "U") yield return r with { Method = "U" };
        if (r.Helpers) yield return r with { Helpers = false };
    }

    private static IEnumerable<ImmutableArray<Stmt>> Bodies(ImmutableArray<Stmt> body)
    {
        for (int i = 0; i < body.Length; i++)
            yield return body.RemoveAt(i);
        for (int i = 0; i < body.Length; i++)
        {
            if (body[i] is IfStmt s)
            {
                yield return body.RemoveAt(i).InsertRange(i, s.Then);
                if (s.Else is { } e)
                {
                    yield return body.RemoveAt(i).InsertRange(i, e);
                    yield return body.SetItem(i, s with { Else = null });
                }
            }
        }
        for (int i = 0; i < body.Length; i++)
        {
            foreach (Stmt v in StmtVariants(body[i]))
                yield return body.SetItem(i, v);
        }
    }

    private static IEnumerable<Stmt> StmtVariants(Stmt s)
    {
        switch (s)
        {
            case IfStmt i:
                foreach (E c in Exprs(i.Cond)) yield return i with { Cond = c };
                foreach (var t in Bodies(i.Then)) yield return i with { Then = t };
                if (i.Else is { } e)
                    foreach (var x in Bodies(e)) yield return i with { Else = x };
                break;
            case DeclStmt d:
                foreach (E x in Exprs(d.Init)) yield return d with { Init = x };
                break;
            case AssignStmt a:
                if (a.Op != "=") yield return a with { Op = "=" };
                foreach (E x in Exprs(a.Value)) yield return a with { Value = x };
                break;
        }
    }

    private static IEnumerable<E> Exprs(E e)
    {
        foreach (E child in e.Args)
            if (child.Type == e.Type) yield return child;
        if (e.Kind != "lit")
        {
            string lit = e.Type switch { Ty.Float => "1f", Ty.Double => "1.0", Ty.Int => "1", Ty.Long => "1L", _ => "true" };
            yield return E.Lit(lit, e.Type);
        }
        for (int i = 0; i < e.Args.Length; i++)
            foreach (E v in Exprs(e.Args[i]))
                yield return e with { Args = e.Args.SetItem(i, v) };
    }
}

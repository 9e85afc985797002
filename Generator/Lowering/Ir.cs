using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Helpers;
using Kernels.Generator.Model;

namespace Kernels.Generator.Lowering;

/// <summary>
/// The one walker over the element IR: every analysis and rewrite (the CPU emitter's, the GPU emitter's)
/// goes through <see cref="Children"/> and <see cref="WithChildren"/>, so a new node kind is handled in one place.
/// </summary>
internal static class Ir
{
    /// <summary>The direct subexpressions of a node, in evaluation order.</summary>
    public static IReadOnlyList<ElementExpr> Children(ElementExpr expression) => expression switch
    {
        UnaryExpr u => new[] { u.Operand },
        BinaryExpr b => new[] { b.Left, b.Right },
        CallExpr c => c.Arguments.ToArray(),
        SelectExpr s => new[] { s.Condition, s.WhenTrue, s.WhenFalse },
        UniformSelectExpr s => new[] { s.WhenTrue, s.WhenFalse },
        ConvertExpr c => new[] { c.Operand },
        ElementRefExpr or UniformExpr => System.Array.Empty<ElementExpr>(),
        _ => throw new System.NotSupportedException("IR node " + expression.GetType().Name),
    };

    /// <summary>The node with its children replaced (same order as <see cref="Children"/>).</summary>
    public static ElementExpr WithChildren(ElementExpr expression, IReadOnlyList<ElementExpr> c) => expression switch
    {
        UnaryExpr u => u with { Operand = c[0] },
        BinaryExpr b => b with { Left = c[0], Right = c[1] },
        CallExpr call => call with { Arguments = c.ToEquatableArray() },
        SelectExpr s => s with { Condition = c[0], WhenTrue = c[1], WhenFalse = c[2] },
        UniformSelectExpr s => s with { WhenTrue = c[0], WhenFalse = c[1] },
        ConvertExpr cv => cv with { Operand = c[0] },
        _ => expression,
    };

    /// <summary>Rewrites bottom-up: children first, then <paramref name="rewrite"/> on the rebuilt node.</summary>
    public static ElementExpr Rewrite(ElementExpr expression, System.Func<ElementExpr, ElementExpr> rewrite)
    {
        IReadOnlyList<ElementExpr> children = Children(expression);
        ElementExpr rebuilt = children.Count == 0 ? expression : WithChildren(expression, children.Select(child => Rewrite(child, rewrite)).ToArray());
        return rewrite(rebuilt);
    }

    /// <summary>Rewrites every expression of a body.</summary>
    public static EquatableArray<ElementStmt> Rewrite(EquatableArray<ElementStmt> body, System.Func<ElementExpr, ElementExpr> rewrite) =>
        body.Select(s => Rewrite(s, rewrite)).ToEquatableArray();

    private static ElementStmt Rewrite(ElementStmt statement, System.Func<ElementExpr, ElementExpr> rewrite) => statement switch
    {
        AssignStmt a => a with { Value = Rewrite(a.Value, rewrite) },
        UniformIfStmt u => u with { Then = Rewrite(u.Then, rewrite), Else = Rewrite(u.Else, rewrite) },
        ElementIfStmt e => e with { Condition = Rewrite(e.Condition, rewrite), Then = Rewrite(e.Then, rewrite), Else = Rewrite(e.Else, rewrite) },
        _ => statement,
    };

    /// <summary>Every statement, nested ones included, in order.</summary>
    public static IEnumerable<ElementStmt> Statements(IEnumerable<ElementStmt> statements)
    {
        foreach (ElementStmt s in statements)
        {
            yield return s;
            IEnumerable<ElementStmt> nested = s switch
            {
                UniformIfStmt u => u.Then.Concat(u.Else),
                ElementIfStmt e => e.Then.Concat(e.Else),
                _ => Enumerable.Empty<ElementStmt>(),
            };
            foreach (ElementStmt n in Statements(nested))
                yield return n;
        }
    }

    /// <summary>Every expression of a body, subexpressions included.</summary>
    public static IEnumerable<ElementExpr> Expressions(IEnumerable<ElementStmt> statements)
    {
        foreach (ElementStmt s in Statements(statements))
        {
            ElementExpr? root = s switch
            {
                AssignStmt a => a.Value,
                ElementIfStmt e => e.Condition,
                _ => null,
            };
            if (root is null)
                continue;
            foreach (ElementExpr e in Expressions(root))
                yield return e;
        }
    }

    /// <summary>The expression and all its subexpressions.</summary>
    public static IEnumerable<ElementExpr> Expressions(ElementExpr root)
    {
        yield return root;
        foreach (ElementExpr child in Children(root))
        {
            foreach (ElementExpr e in Expressions(child))
                yield return e;
        }
    }
}

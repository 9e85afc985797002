using System.Collections.Generic;
using System.Linq;
using Kernels.Generator.Diagnostics;
using Kernels.Generator.Helpers;
using Kernels.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator.Lowering;

/// <summary>
/// Where a reduction's argument is evaluated: placed before the statement that calls <c>Reduce</c>, in the lowered
/// body only until <see cref="RuleLowerer.SplitReductions"/> turns it into the reduction pass's store.
/// </summary>
internal sealed record ReduceStmt(int Index, ElementExpr Value, LocationInfo? Location, string Source) : ElementStmt(Source);

/// <summary>
/// <c>Kernels.Reduce.Sum</c> / <c>Reduce.Max</c>: the call becomes a kernel input set between the passes, and its
/// argument a store of the reduction pass, whose body is the part of the rule the reductions need.
/// </summary>
internal sealed partial class RuleLowerer
{
    /// <summary>Reductions per rule (the runtime's <c>ReductionStep.MaxReductions</c>).</summary>
    public const int MaxReductions = 4;

    /// <summary>Buffers and reduction outputs together (the runtime's <c>PinnedBuffers.MaxBuffers</c>).</summary>
    public const int MaxSlots = 8;

    private readonly List<ReductionSpec> _reductions = new();
    private SyntaxNode? _ruleBody;

    public IReadOnlyList<ReductionSpec> Reductions => _reductions;

    private ElementExpr LowerReduction(InvocationExpressionSyntax invocation, IMethodSymbol method, ExpressionSyntax?[] arguments)
    {
        string? misplaced = ReductionPlacement(invocation);
        if (misplaced is not null)
        {
            Report(DiagnosticDescriptors.UnsupportedReduction, invocation, method.Name, misplaced);
            return Error();
        }
        if (!SymbolEqualityComparer.Default.Equals(method.ReturnType, _elementType) || arguments.Length != 1 || arguments[0] is null)
        {
            Report(DiagnosticDescriptors.UnsupportedReduction, invocation, method.Name,
                $"over {method.ReturnType.ToDisplayString()} values in a {_elementKeyword} rule: reduce values of the rule's type (convert the argument)");
            return Error();
        }
        if (_reductions.Count == MaxReductions)
        {
            Report(DiagnosticDescriptors.UnsupportedReduction, invocation, method.Name, $"beyond the {MaxReductions} reductions one rule may make");
            return Error();
        }
        if (_bufferUse.Count + _reductions.Count + 1 > MaxSlots)
        {
            Report(DiagnosticDescriptors.UnsupportedReduction, invocation, method.Name,
                $"in a rule with {_bufferUse.Count} buffers: buffers and reductions together may not exceed {MaxSlots}");
            return Error();
        }

        ElementExpr value = To(LowerExpression(arguments[0]!), ValueKind.Element);
        bool isMax = method.Name == "Max";
        string input = _names.ClaimName(isMax ? "reducedMax" : "reducedSum");
        string output = _names.ClaimName(isMax ? "maxArgument" : "sumArgument");
        int index = _reductions.Count;
        _reductions.Add(new ReductionSpec(input, output, isMax));
        // A kernel input like a hoisted value, but computed by the reduction pass: Prepare leaves it 0.
        _prologue.Add($"{_elementKeyword} {input} = default;");
        _kernelInputNames.Add(input);
        _kernelInputs.Add(new KernelInputSpec(input, ScalarTypes.FromKeyword(_elementKeyword)));
        _pending.Add(new ReduceStmt(index, value, LocationInfo.From(invocation.GetLocation()), invocation.ToString()));
        return new UniformExpr(input, ValueKind.Element);
    }

    /// <summary>Why a reduction may not stand where it is (null: it may): it must be evaluated for every element, once.</summary>
    private string? ReductionPlacement(InvocationExpressionSyntax invocation)
    {
        if (_inlining.Count > 0)
            return "inside a helper method (call it in the rule itself)";
        if (_elementIfDepth > 0)
            return "under a per-element condition (reduce a select instead: Reduce.Sum(c ? x : 0))";
        if (_uniformPath.Count > 0)
            return "under a uniform condition (reduce unconditionally and select the result)";
        for (SyntaxNode child = invocation, parent = invocation.Parent!; parent is not null; child = parent, parent = parent.Parent!)
        {
            switch (parent)
            {
                case ConditionalExpressionSyntax c when child != c.Condition:
                    return "in an arm of ?: (reduce a select instead: Reduce.Sum(c ? x : 0))";
                case BinaryExpressionSyntax b when child == b.Right && b.Kind() is SyntaxKind.LogicalAndExpression or SyntaxKind.LogicalOrExpression or SyntaxKind.CoalesceExpression:
                    return "on the right of " + b.OperatorToken.Text;
                case StatementSyntax statement:
                    return statement.Parent == _ruleBody ? null : "inside a nested statement (write it at the top level of the rule)";
                case ArrowExpressionClauseSyntax:
                    return null;
            }
        }
        return null;
    }

    /// <summary>
    /// Splits a body with reductions into the update pass (the body without the reduction stores) and the reduction
    /// pass: the top-level statements up to the last reduction that do not use a reduction's result, with each
    /// reduction's argument stored to its output. An argument that uses a reduction's result is reported (it would
    /// need a third pass).
    /// </summary>
    public (EquatableArray<ElementStmt> Update, EquatableArray<ElementStmt> Reduction) SplitReductions(EquatableArray<ElementStmt> body)
    {
        if (_reductions.Count == 0)
            return (body, default);
        var dependent = new HashSet<string>(_reductions.Select(r => r.Input));
        int last = -1;
        for (int i = 0; i < body.Count; i++)
        {
            if (body[i] is ReduceStmt)
                last = i;
        }
        var reduction = new List<ElementStmt>();
        for (int i = 0; i <= last; i++)
        {
            ElementStmt s = body[i];
            if (s is ReduceStmt r)
            {
                if (Reads(new[] { s }, dependent))
                {
                    _diagnostics.Add(new DiagnosticInfo(DiagnosticDescriptors.UnsupportedReduction.Id, r.Location,
                        new[] { _reductions[r.Index].IsMax ? "Max" : "Sum", "whose argument uses another reduction's result (that would need a third pass over the tensor)" }.ToEquatableArray()));
                    continue;
                }
                reduction.Add(new AssignStmt(_reductions[r.Index].Output, false, ValueKind.Element, r.Value, r.Source));
            }
            else if (Reads(new[] { s }, dependent))
            {
                // Known only in the update pass: so is everything it assigns.
                foreach (ElementStmt assigned in Ir.Statements(new[] { s }))
                {
                    if (assigned is AssignStmt a)
                        dependent.Add(a.Target);
                }
            }
            else
                reduction.Add(s);
        }
        return (body.Where(s => s is not ReduceStmt).ToEquatableArray(), reduction.ToEquatableArray());
    }

    private static bool Reads(IEnumerable<ElementStmt> statements, HashSet<string> names)
    {
        foreach (ElementStmt s in Ir.Statements(statements))
        {
            ElementExpr? root = s switch
            {
                AssignStmt a => a.Value,
                ElementIfStmt e => e.Condition,
                ReduceStmt r => r.Value,
                _ => null,
            };
            if (root is not null && Ir.Expressions(root).Any(e => e is ElementRefExpr x && names.Contains(x.Name) || e is UniformExpr u && names.Contains(u.Name)))
                return true;
        }
        return false;
    }
}

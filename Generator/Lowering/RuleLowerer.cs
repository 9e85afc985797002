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

/// <summary>
/// Lowers a rule body to the element IR: uniform statements and maximal uniform subexpressions are
/// hoisted into a prologue (as C# text, evaluated once per call); per-element statements become
/// <see cref="ElementStmt"/>s over <see cref="ElementExpr"/>s. Unsupported constructs are recorded as
/// diagnostics at their syntax, and lowering carries on so every problem is reported at once.
/// </summary>
internal sealed class RuleLowerer
{
    // Swapped while a helper method's body is inlined (its syntax may live in another tree).
    private SemanticModel _model;
    private readonly CancellationToken _cancellationToken;
    private readonly ITypeSymbol _elementType;
    private readonly string _elementKeyword;
    private readonly string _otherKeyword;
    private VaryingAnalysis _varying;
    private readonly List<DiagnosticInfo> _diagnostics;
    private readonly HoistedNames _names;

    private readonly List<string> _prologue = new();
    private readonly Dictionary<string, string> _hoistedByText = new();
    private readonly List<KernelInputSpec> _kernelInputs = new();
    private readonly HashSet<string> _kernelInputNames = new();
    private readonly Dictionary<ISymbol, string> _elementNames = new(SymbolEqualityComparer.Default);
    private readonly HashSet<string> _elementNamesTaken = new();
    private readonly HashSet<ISymbol> _uniformLocalsReadPerElement = new(SymbolEqualityComparer.Default);
    // The emitted name of every local of the rule: hoisting flattens scopes into one prologue and one loop
    // body, so a name declared twice (both arms of an if, sibling blocks) gets a fresh one for its second symbol.
    private readonly Dictionary<ISymbol, string> _localNames = new(SymbolEqualityComparer.Default);

    private static readonly SymbolDisplayFormat s_typeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    // The uniform conditions enclosing the statement being lowered: (hoisted bool, taken when true?).
    private readonly List<(string Condition, bool WhenTrue)> _uniformPath = new();

    private readonly Dictionary<string, BufferUse> _bufferUse = new();

    // How many per-element `if`s enclose the statement being lowered.
    private int _elementIfDepth;

    private sealed class BufferUse
    {
        public bool Read;
        public bool Written;
        public bool Unconditional;
        public readonly List<(string Condition, bool WhenTrue)[]> Paths = new();
    }

    public RuleLowerer(
        SemanticModel model, ITypeSymbol elementType, SyntaxNode body, IReadOnlyList<IParameterSymbol> elementParameters,
        IEnumerable<string> allNames, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        _model = model;
        _cancellationToken = cancellationToken;
        _elementType = elementType;
        _elementKeyword = elementType.SpecialType == SpecialType.System_Double ? "double" : "float";
        _otherKeyword = _elementKeyword == "double" ? "float" : "double";
        _diagnostics = diagnostics;
        _names = new HoistedNames(allNames);
        _varying = new VaryingAnalysis(model, body, elementParameters);
        foreach (IParameterSymbol p in elementParameters)
        {
            string name = Escape(p.Name);
            _elementNames[p] = name;
            _elementNamesTaken.Add(name);
            _bufferUse[name] = new BufferUse();
        }
        NameLocals(body);
    }

    private void NameLocals(SyntaxNode body)
    {
        var used = new HashSet<string>();
        foreach (SyntaxNode node in body.DescendantNodes())
        {
            ISymbol? local = node switch
            {
                VariableDeclaratorSyntax d => _model.GetDeclaredSymbol(d),
                SingleVariableDesignationSyntax d => _model.GetDeclaredSymbol(d),
                ForEachStatementSyntax f => _model.GetDeclaredSymbol(f),
                _ => null,
            };
            if (local is not ILocalSymbol || _localNames.ContainsKey(local))
                continue;
            _localNames[local] = used.Add(local.Name) ? Escape(local.Name) : _names.ClaimName(local.Name);
        }
    }

    /// <summary>Uniform code as it must be written in the prologue: using-independent, locals renamed.</summary>
    private string Rewrite(SyntaxNode node) => UniformRewriter.Rewrite(_model, node, _localNames);

    private string LocalName(ISymbol local) => _localNames.TryGetValue(local, out string? name) ? name : Escape(local.Name);

    public IReadOnlyList<string> Prologue => _prologue;

    public IReadOnlyList<KernelInputSpec> KernelInputs => _kernelInputs;

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

    public EquatableArray<ElementStmt> LowerBody(SyntaxNode body)
    {
        var output = new List<ElementStmt>();
        switch (body)
        {
            case BlockSyntax block:
                foreach (StatementSyntax statement in block.Statements)
                    LowerStatement(statement, output);
                break;
            case ArrowExpressionClauseSyntax arrow:
                WithPending(output, own => LowerExpressionStatement(arrow.Expression, arrow.Expression.ToString() + ";", own));
                break;
        }
        return output.ToEquatableArray();
    }

    // Statements an expression needs before the statement that contains it (an inlined helper's parameters and locals).
    private List<ElementStmt> _pending = new();

    private void WithPending(List<ElementStmt> output, System.Action<List<ElementStmt>> lower)
    {
        List<ElementStmt> saved = _pending;
        _pending = new List<ElementStmt>();
        var own = new List<ElementStmt>();
        lower(own);
        output.AddRange(_pending);
        output.AddRange(own);
        _pending = saved;
    }

    // ---- Statements -------------------------------------------------------------------------

    private void LowerStatement(StatementSyntax statement, List<ElementStmt> output) =>
        WithPending(output, own => LowerStatementCore(statement, own));

    private void LowerStatementCore(StatementSyntax statement, List<ElementStmt> output)
    {
        _cancellationToken.ThrowIfCancellationRequested();

        if (!_varying.DependsOnVarying(statement) && statement is not BlockSyntax && statement is not IfStatementSyntax)
        {
            HoistStatement(statement);
            return;
        }

        switch (statement)
        {
            case BlockSyntax block:
                foreach (StatementSyntax inner in block.Statements)
                    LowerStatement(inner, output);
                break;

            case EmptyStatementSyntax:
                break;

            case LocalDeclarationStatementSyntax declaration:
                LowerDeclaration(declaration, output);
                break;

            case ExpressionStatementSyntax expressionStatement:
                LowerExpressionStatement(expressionStatement.Expression, SourceOf(statement), output);
                break;

            case IfStatementSyntax ifStatement:
                LowerIf(ifStatement, output);
                break;

            case SwitchStatementSyntax switchStatement when !_varying.DependsOnVarying(switchStatement.Expression):
                LowerUniformSwitch(switchStatement, output);
                break;

            case ForStatementSyntax or ForEachStatementSyntax or ForEachVariableStatementSyntax or WhileStatementSyntax or DoStatementSyntax:
                Report(DiagnosticDescriptors.LoopOverElements, LoopKeyword(statement));
                break;

            case ReturnStatementSyntax:
                Report(DiagnosticDescriptors.ReturnInRule, statement);
                break;

            case ThrowStatementSyntax:
                Report(DiagnosticDescriptors.ExceptionInRule, statement, "throw");
                break;

            case TryStatementSyntax:
                Report(DiagnosticDescriptors.ExceptionInRule, statement, "try");
                break;

            default:
                Report(DiagnosticDescriptors.UnsupportedStatement, statement, StatementKeyword(statement));
                break;
        }
    }

    private void HoistStatement(StatementSyntax statement)
    {
        if (_elementIfDepth > 0 && statement.DescendantNodesAndSelf().Any(n => n is ThrowStatementSyntax or ThrowExpressionSyntax))
        {
            // A throw under a per-element condition would have to fire per element; vectors cannot.
            Report(DiagnosticDescriptors.ExceptionInRule, statement, "throw");
            return;
        }
        if (!CheckUniformCode(statement) || !CheckReachedByEveryElement(statement))
            return;

        switch (statement)
        {
            case EmptyStatementSyntax:
                return;
            case LocalDeclarationStatementSyntax declaration:
                foreach (VariableDeclaratorSyntax declarator in declaration.Declaration.Variables)
                    HoistDeclarator(declaration.Declaration.Type, declarator, declaration.IsConst);
                return;
        }

        foreach (ILocalSymbol assigned in AssignedLocals(statement))
        {
            if (_uniformLocalsReadPerElement.Contains(assigned))
                Report(DiagnosticDescriptors.UniformReassignedAfterUse, statement, assigned.Name);
        }

        string text = Rewrite(statement);
        if (_uniformPath.Count > 0)
            text = "if (" + PathText() + ")\n{\n" + Indent(text) + "\n}";
        _prologue.Add(text);
    }

    /// <summary>
    /// A uniform local. Outside any uniform condition it is declared as written; under one, it is declared for
    /// the whole prologue (scopes are flattened) and assigned only where the rule assigns it, so an initializer
    /// that may throw runs only when the scalar rule would run it.
    /// </summary>
    private void HoistDeclarator(TypeSyntax type, VariableDeclaratorSyntax declarator, bool isConst)
    {
        if (_varying.SymbolOf(declarator) is not ILocalSymbol local)
            return;
        if (isConst || _uniformPath.Count == 0)
        {
            _prologue.Add($"{(isConst ? "const " : "")}{Rewrite(type)} {Rewrite(declarator)};");
            return;
        }
        string name = LocalName(local);
        _prologue.Add($"{local.Type.ToDisplayString(s_typeFormat)} {name} = default!;");
        if (declarator.Initializer is not null)
            _prologue.Add($"if ({PathText()})\n{{\n    {name} = {Rewrite(declarator.Initializer.Value)};\n}}");
    }

    /// <summary>
    /// Uniform code under a per-element condition runs once, before the loop, whatever the elements: only code that
    /// cannot throw may be moved there (the scalar rule would run it only for the elements that meet the condition).
    /// </summary>
    private bool CheckReachedByEveryElement(SyntaxNode node)
    {
        if (_elementIfDepth == 0 || ThrowAnalysis.Reason(_model, node) is not { } reason)
            return true;
        Report(DiagnosticDescriptors.MayThrowUnderElementCondition, node, OneLine(node.ToString()), reason);
        return false;
    }

    private void LowerDeclaration(LocalDeclarationStatementSyntax declaration, List<ElementStmt> output)
    {
        if (declaration.Declaration.Type is RefTypeSyntax)
        {
            Report(DiagnosticDescriptors.RefLocal, declaration);
            return;
        }
        foreach (VariableDeclaratorSyntax declarator in declaration.Declaration.Variables)
        {
            if (_varying.SymbolOf(declarator) is not ILocalSymbol local)
                continue;
            if (!_varying.Varying.Contains(local))
            {
                // `float a = lr * 2, b = grad;`: the uniform declarator is hoisted on its own.
                if (CheckUniformCode(declarator) && CheckReachedByEveryElement(declarator))
                    HoistDeclarator(declaration.Declaration.Type, declarator, declaration.IsConst);
                continue;
            }

            if (!TryKindOf(local.Type, out ValueKind kind))
            {
                ReportBadType(declarator, local.Type);
                continue;
            }
            string name = DeclareElementLocal(local);
            string source = OneLine($"{declaration.Declaration.Type} {declarator};");
            if (declarator.Initializer is null)
                output.Add(new DeclareStmt(name, kind, source));
            else
                output.Add(new AssignStmt(name, Declares: true, kind, To(LowerExpression(declarator.Initializer.Value), kind), source));
        }
    }

    private void LowerExpressionStatement(ExpressionSyntax expression, string source, List<ElementStmt> output)
    {
        switch (expression)
        {
            case AssignmentExpressionSyntax assignment:
            {
                if (assignment.Right is RefExpressionSyntax)
                {
                    Report(DiagnosticDescriptors.RefLocal, assignment);
                    return;
                }
                if (!TryElementTarget(assignment.Left, out string target, out ValueKind kind))
                    return;
                ElementExpr value = LowerExpression(assignment.Right);
                if (!assignment.IsKind(SyntaxKind.SimpleAssignmentExpression))
                {
                    BinaryOp? op = assignment.Kind() switch
                    {
                        SyntaxKind.AddAssignmentExpression => BinaryOp.Add,
                        SyntaxKind.SubtractAssignmentExpression => BinaryOp.Subtract,
                        SyntaxKind.MultiplyAssignmentExpression => BinaryOp.Multiply,
                        SyntaxKind.DivideAssignmentExpression => BinaryOp.Divide,
                        SyntaxKind.AndAssignmentExpression when kind.IsMask() => BinaryOp.And,
                        SyntaxKind.OrAssignmentExpression when kind.IsMask() => BinaryOp.Or,
                        SyntaxKind.ExclusiveOrAssignmentExpression when kind.IsMask() => BinaryOp.Xor,
                        _ => null,
                    };
                    if (op is null)
                    {
                        Report(DiagnosticDescriptors.UnsupportedOperator, assignment.OperatorToken, assignment.OperatorToken.Text);
                        return;
                    }
                    MarkRead(target);
                    value = new BinaryExpr(op.Value, new ElementRefExpr(target, kind), To(value, kind), kind);
                }
                value = To(value, kind);
                MarkWritten(target);
                output.Add(new AssignStmt(target, Declares: false, kind, value, source));
                return;
            }

            case PrefixUnaryExpressionSyntax or PostfixUnaryExpressionSyntax when VaryingAnalysis.IsIncrementOrDecrement(expression):
            {
                ExpressionSyntax operand = VaryingAnalysis.Operand(expression);
                if (!TryElementTarget(operand, out string target, out ValueKind kind))
                    return;
                bool increment = expression.Kind() is SyntaxKind.PreIncrementExpression or SyntaxKind.PostIncrementExpression;
                string one = HoistConstant(1, "one", KeywordOf(kind));
                MarkRead(target);
                MarkWritten(target);
                output.Add(new AssignStmt(target, Declares: false, kind,
                    new BinaryExpr(increment ? BinaryOp.Add : BinaryOp.Subtract, new ElementRefExpr(target, kind), new UniformExpr(one, kind), kind),
                    source));
                return;
            }

            case InvocationExpressionSyntax:
                Report(DiagnosticDescriptors.SideEffect, expression, expression.ToString());
                return;

            default:
                Report(DiagnosticDescriptors.UnsupportedExpression, expression, expression.ToString());
                return;
        }
    }

    private void LowerIf(IfStatementSyntax ifStatement, List<ElementStmt> output)
    {
        if (!_varying.DependsOnVarying(ifStatement))
        {
            HoistStatement(ifStatement);
            return;
        }

        string source = OneLine("if (" + ifStatement.Condition + ")");
        if (!_varying.DependsOnVarying(ifStatement.Condition))
        {
            string condition = HoistCondition(ifStatement.Condition);
            _uniformPath.Add((condition, true));
            EquatableArray<ElementStmt> then = LowerArm(ifStatement.Statement);
            _uniformPath[_uniformPath.Count - 1] = (condition, false);
            EquatableArray<ElementStmt> otherwise = ifStatement.Else is null ? EquatableArray<ElementStmt>.Empty : LowerArm(ifStatement.Else.Statement);
            _uniformPath.RemoveAt(_uniformPath.Count - 1);
            output.Add(new UniformIfStmt(condition, then, otherwise, source));
        }
        else
        {
            ElementExpr condition = To(LowerExpression(ifStatement.Condition), ValueKind.Mask);
            _elementIfDepth++;
            EquatableArray<ElementStmt> then = LowerArm(ifStatement.Statement);
            EquatableArray<ElementStmt> otherwise = ifStatement.Else is null ? EquatableArray<ElementStmt>.Empty : LowerArm(ifStatement.Else.Statement);
            _elementIfDepth--;
            output.Add(new ElementIfStmt(condition, then, otherwise, source));
        }
    }

    /// <summary>
    /// A <c>switch</c> on a step-invariant value with per-element code in its sections: the value and each
    /// section's test are hoisted, and the sections become a chain of uniform <c>if</c>/<c>else</c> (a branch per
    /// call, none per element). A section must end in <c>break</c> and contain no other jump.
    /// </summary>
    private void LowerUniformSwitch(SwitchStatementSyntax statement, List<ElementStmt> output)
    {
        foreach (SwitchSectionSyntax section in statement.Sections)
        {
            if (section.Statements.LastOrDefault() is not BreakStatementSyntax)
            {
                Report(DiagnosticDescriptors.UnsupportedSwitch, section.Labels.Last(), "a section of a switch with per-element code must end with 'break'");
                return;
            }
            SyntaxNode? jump = section.Statements.Take(section.Statements.Count - 1).SelectMany(s => s.DescendantNodesAndSelf())
                .FirstOrDefault(n => n is BreakStatementSyntax or ContinueStatementSyntax or GotoStatementSyntax or ReturnStatementSyntax);
            if (jump is not null)
            {
                Report(DiagnosticDescriptors.UnsupportedSwitch, jump, "a jump other than the section's final 'break'");
                return;
            }
        }
        if (!CheckUniformCode(statement.Expression))
            return;

        ITypeSymbol? type = _model.GetTypeInfo(statement.Expression).Type;
        string value = _names.ClaimName("switchValue");
        _prologue.Add($"{type?.ToDisplayString(s_typeFormat) ?? "var"} {value} = {Rewrite(statement.Expression)};");

        var cases = new List<(string Condition, SwitchSectionSyntax Section)>();
        SwitchSectionSyntax? defaultSection = null;
        foreach (SwitchSectionSyntax section in statement.Sections)
        {
            var tests = new List<string>();
            foreach (SwitchLabelSyntax label in section.Labels)
            {
                switch (label)
                {
                    case DefaultSwitchLabelSyntax:
                        defaultSection = section;
                        break;
                    case CaseSwitchLabelSyntax constant:
                        tests.Add($"{value} is {Rewrite(constant.Value)}");
                        break;
                    case CasePatternSwitchLabelSyntax pattern:
                        tests.Add(pattern.WhenClause is null
                            ? $"{value} is {Rewrite(pattern.Pattern)}"
                            : $"{value} is {Rewrite(pattern.Pattern)} && ({Rewrite(pattern.WhenClause.Condition)})");
                        break;
                }
            }
            if (tests.Count == 0)
                continue;
            string condition = _names.ClaimName("isCase" + (cases.Count + 1).ToString(CultureInfo.InvariantCulture));
            string text = string.Join(" || ", tests.Select(t => tests.Count > 1 ? "(" + t + ")" : t));
            // The switch runs under the enclosing uniform conditions; a `when` clause may call anything.
            if (_uniformPath.Count > 0)
            {
                _prologue.Add($"bool {condition} = false;");
                _prologue.Add($"if ({PathText()})\n{{\n    {condition} = {text};\n}}");
            }
            else
                _prologue.Add($"bool {condition} = {text};");
            AddKernelInput(condition, "bool");
            cases.Add((condition, section));
        }

        EquatableArray<ElementStmt> LowerSection(SwitchSectionSyntax section)
        {
            var arm = new List<ElementStmt>();
            foreach (StatementSyntax inner in section.Statements.Take(section.Statements.Count - 1))
                LowerStatement(inner, arm);
            return arm.ToEquatableArray();
        }

        EquatableArray<ElementStmt> Chain(int index)
        {
            if (index == cases.Count)
                return defaultSection is null ? EquatableArray<ElementStmt>.Empty : LowerSection(defaultSection);
            (string condition, SwitchSectionSyntax section) = cases[index];
            _uniformPath.Add((condition, true));
            EquatableArray<ElementStmt> then = LowerSection(section);
            _uniformPath[_uniformPath.Count - 1] = (condition, false);
            EquatableArray<ElementStmt> otherwise = Chain(index + 1);
            _uniformPath.RemoveAt(_uniformPath.Count - 1);
            string source = OneLine(string.Join(" ", section.Labels.Select(l => l.ToString().Trim())));
            return new ElementStmt[] { new UniformIfStmt(condition, then, otherwise, "switch (" + statement.Expression + ") " + source) }.ToEquatableArray();
        }

        output.AddRange(Chain(0));
    }

    private EquatableArray<ElementStmt> LowerArm(StatementSyntax statement)
    {
        var arm = new List<ElementStmt>();
        LowerStatement(statement, arm);
        return arm.ToEquatableArray();
    }

    private bool TryElementTarget(ExpressionSyntax target, out string name, out ValueKind kind)
    {
        name = "";
        kind = ValueKind.Element;
        ISymbol? symbol = _varying.SymbolOf(target);
        if (target is IdentifierNameSyntax && symbol is not null && _elementNames.TryGetValue(symbol, out string? emitted))
        {
            name = emitted;
            ITypeSymbol type = symbol is ILocalSymbol l ? l.Type : ((IParameterSymbol)symbol).Type;
            return TryKindOf(type, out kind) || ReportBadType(target, type);
        }
        if (symbol is ILocalSymbol local && _varying.Varying.Contains(local))
        {
            // Assigned before its declaration was lowered (cannot happen in valid C#), or a bad type reported there.
            return false;
        }
        Report(DiagnosticDescriptors.SideEffect, target, target.Parent?.ToString() ?? target.ToString());
        return false;
    }

    // ---- Expressions ------------------------------------------------------------------------

    private ElementExpr LowerExpression(ExpressionSyntax expression)
    {
        if (!_varying.DependsOnVarying(expression))
            return Hoist(expression);

        TypeInfo info = _model.GetTypeInfo(expression);
        if (!CheckElementValue(expression, info))
            return Error();

        ElementExpr lowered = LowerCore(expression, info);
        // An implicit float → double conversion where the value is used (e.g. `grad * someDouble`).
        if (info.ConvertedType is { } converted && TryKindOf(converted, out ValueKind target) && !target.IsMask()
            && !SymbolEqualityComparer.Default.Equals(converted, info.Type) && info.Type!.SpecialType != SpecialType.System_Int32)
            lowered = To(lowered, target);
        return lowered;
    }

    private ElementExpr LowerCore(ExpressionSyntax expression, TypeInfo info)
    {
        switch (expression)
        {
            case ParenthesizedExpressionSyntax parenthesized:
                return LowerExpression(parenthesized.Expression);

            case CheckedExpressionSyntax checkedExpression:
                return LowerExpression(checkedExpression.Expression);

            case IdentifierNameSyntax identifier:
            {
                ISymbol? symbol = _varying.SymbolOf(identifier);
                if (symbol is not null && _elementNames.TryGetValue(symbol, out string? name))
                {
                    MarkRead(name);
                    return new ElementRefExpr(name, KindOf(info.Type!));
                }
                return Error();
            }

            case CastExpressionSyntax cast:
                // (float)x and (double)x: identity, or a per-element conversion between the two.
                return To(LowerExpression(cast.Expression), KindOf(info.Type!));

            case PrefixUnaryExpressionSyntax unary:
                switch (unary.Kind())
                {
                    case SyntaxKind.UnaryPlusExpression:
                        return LowerExpression(unary.Operand);
                    case SyntaxKind.UnaryMinusExpression:
                    {
                        ElementExpr operand = LowerExpression(unary.Operand);
                        return new UnaryExpr(UnaryOp.Negate, operand, operand.Kind);
                    }
                    case SyntaxKind.LogicalNotExpression:
                        return new UnaryExpr(UnaryOp.Not, To(LowerExpression(unary.Operand), ValueKind.Mask), ValueKind.Mask);
                    default:
                        Report(DiagnosticDescriptors.UnsupportedOperator, unary.OperatorToken, unary.OperatorToken.Text);
                        return Error();
                }

            case BinaryExpressionSyntax binary:
                return LowerBinary(binary, info);

            case ConditionalExpressionSyntax conditional:
            {
                ValueKind kind = KindOf(info.Type!);
                if (!_varying.DependsOnVarying(conditional.Condition))
                {
                    // Each arm is reached under its side of the condition (what an arm hoists may depend on it).
                    string condition = HoistCondition(conditional.Condition);
                    _uniformPath.Add((condition, true));
                    ElementExpr whenTrue = To(LowerExpression(conditional.WhenTrue), kind);
                    _uniformPath[_uniformPath.Count - 1] = (condition, false);
                    ElementExpr whenFalse = To(LowerExpression(conditional.WhenFalse), kind);
                    _uniformPath.RemoveAt(_uniformPath.Count - 1);
                    return new UniformSelectExpr(condition, whenTrue, whenFalse, kind);
                }
                ElementExpr mask = To(LowerExpression(conditional.Condition), kind.MaskOf());
                _elementIfDepth++;
                ElementExpr elementTrue = To(LowerExpression(conditional.WhenTrue), kind);
                ElementExpr elementFalse = To(LowerExpression(conditional.WhenFalse), kind);
                _elementIfDepth--;
                return new SelectExpr(mask, elementTrue, elementFalse, kind);
            }

            case InvocationExpressionSyntax invocation:
                return LowerCall(invocation);

            case ObjectCreationExpressionSyntax or ImplicitObjectCreationExpressionSyntax or ArrayCreationExpressionSyntax
                or ImplicitArrayCreationExpressionSyntax or StackAllocArrayCreationExpressionSyntax or InterpolatedStringExpressionSyntax
                or CollectionExpressionSyntax or AnonymousObjectCreationExpressionSyntax:
                Report(DiagnosticDescriptors.Allocation, expression, expression.ToString());
                return Error();

            case RefExpressionSyntax:
                Report(DiagnosticDescriptors.RefLocal, expression);
                return Error();

            case AssignmentExpressionSyntax:
                Report(DiagnosticDescriptors.UnsupportedExpression, expression, "assignment inside an expression");
                return Error();

            default:
                Report(DiagnosticDescriptors.UnsupportedExpression, expression, expression.ToString());
                return Error();
        }
    }

    private ElementExpr LowerBinary(BinaryExpressionSyntax binary, TypeInfo info)
    {
        BinaryOp? op = binary.Kind() switch
        {
            SyntaxKind.AddExpression => BinaryOp.Add,
            SyntaxKind.SubtractExpression => BinaryOp.Subtract,
            SyntaxKind.MultiplyExpression => BinaryOp.Multiply,
            SyntaxKind.DivideExpression => BinaryOp.Divide,
            SyntaxKind.LessThanExpression => BinaryOp.LessThan,
            SyntaxKind.LessThanOrEqualExpression => BinaryOp.LessThanOrEqual,
            SyntaxKind.GreaterThanExpression => BinaryOp.GreaterThan,
            SyntaxKind.GreaterThanOrEqualExpression => BinaryOp.GreaterThanOrEqual,
            SyntaxKind.EqualsExpression => BinaryOp.Equal,
            SyntaxKind.NotEqualsExpression => BinaryOp.NotEqual,
            SyntaxKind.LogicalAndExpression or SyntaxKind.BitwiseAndExpression => BinaryOp.And,
            SyntaxKind.LogicalOrExpression or SyntaxKind.BitwiseOrExpression => BinaryOp.Or,
            SyntaxKind.ExclusiveOrExpression => BinaryOp.Xor,
            _ => null,
        };
        if (op is null)
        {
            Report(DiagnosticDescriptors.UnsupportedOperator, binary.OperatorToken, binary.OperatorToken.Text);
            return Error();
        }

        ElementExpr left = LowerExpression(binary.Left);
        // `g > 0 && x`: the scalar rule evaluates x only where the left holds.
        bool shortCircuit = binary.Kind() is SyntaxKind.LogicalAndExpression or SyntaxKind.LogicalOrExpression && _varying.DependsOnVarying(binary.Left);
        if (shortCircuit)
            _elementIfDepth++;
        ElementExpr right = LowerExpression(binary.Right);
        if (shortCircuit)
            _elementIfDepth--;
        bool comparison = op is BinaryOp.LessThan or BinaryOp.LessThanOrEqual or BinaryOp.GreaterThan or BinaryOp.GreaterThanOrEqual;
        bool equality = op is BinaryOp.Equal or BinaryOp.NotEqual;
        bool logical = op is BinaryOp.And or BinaryOp.Or or BinaryOp.Xor;

        if (logical || equality && left.Kind.IsMask() && right.Kind.IsMask())
        {
            // Masks combine over the rule's lanes; bool == bool is "not xor", bool != bool is xor.
            left = To(left, ValueKind.Mask);
            right = To(right, ValueKind.Mask);
            if (!equality)
                return new BinaryExpr(op.Value, left, right, ValueKind.Mask);
            ElementExpr differs = new BinaryExpr(BinaryOp.Xor, left, right, ValueKind.Mask);
            return op == BinaryOp.NotEqual ? differs : new UnaryExpr(UnaryOp.Not, differs, ValueKind.Mask);
        }

        // C# has already converted both operands to one floating type.
        if (left.Kind.IsMask() || right.Kind.IsMask() || left.Kind != right.Kind)
        {
            Report(DiagnosticDescriptors.UnsupportedOperator, binary.OperatorToken, binary.OperatorToken.Text);
            return Error();
        }
        ValueKind kind = comparison || equality ? left.Kind.MaskOf() : left.Kind;
        return new BinaryExpr(op.Value, left, right, kind);
    }

    private ElementExpr LowerCall(InvocationExpressionSyntax invocation)
    {
        if (_model.GetSymbolInfo(invocation).Symbol is not IMethodSymbol method)
        {
            Report(DiagnosticDescriptors.UnknownMethod, invocation, invocation.Expression.ToString());
            return Error();
        }

        // Arguments in parameter order (named arguments may be written in any order).
        var syntax = new ExpressionSyntax[method.Parameters.Length];
        SeparatedSyntaxList<ArgumentSyntax> list = invocation.ArgumentList.Arguments;
        for (int i = 0; i < list.Count && i < syntax.Length; i++)
        {
            int ordinal = list[i].NameColon is { } nameColon
                ? method.Parameters.FirstOrDefault(p => p.Name == nameColon.Name.Identifier.ValueText)?.Ordinal ?? i
                : i;
            syntax[ordinal] = list[i].Expression;
        }

        bool mathType = KnownFunctions.IsMathType(method.ContainingType.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat.WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.None)));
        ITypeSymbol? argumentType = method.Parameters.FirstOrDefault()?.Type;

        if (mathType && method.Name == "Pow" && syntax.Length == 2 && syntax.All(a => a is not null) && IsFloatingPoint(argumentType))
            return LowerPower(invocation, syntax[0], syntax[1], argumentType!);

        if (!mathType && method.DeclaringSyntaxReferences.Length > 0)
            return InlineHelper(invocation, method, syntax);

        KnownFunction? known = mathType ? KnownFunctions.Named(method.Name) : null;
        if (known is not null && method.ContainingType.ToDisplayString() == KnownFunctions.KernelMathType && known.Function is not (Intrinsic.Exp or Intrinsic.Log))
            known = null;
        if (known is null || method.Parameters.Length != known.Arity || !IsFloatingPoint(argumentType)
            || method.Parameters.Any(p => !SymbolEqualityComparer.Default.Equals(p.Type, argumentType)) || syntax.Any(a => a is null))
        {
            Report(DiagnosticDescriptors.UnknownMethod, invocation, method.ContainingType.Name + "." + method.Name);
            return Error();
        }

        EquatableArray<ElementExpr> arguments = syntax.Select(a => LowerExpression(a)).ToEquatableArray();
        string sourceName = known.Scalar ?? method.ContainingType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) + "." + method.Name;
        ValueKind argumentKind = KindOf(argumentType!);
        ValueKind kind = known.Result switch
        {
            KnownResult.Mask => argumentKind.MaskOf(),
            // Sign returns int; its value is used as the floating type it converts to (implicitly or by a cast).
            KnownResult.Int => KindOf(SignTargetType(invocation) ?? argumentType!),
            _ => argumentKind,
        };
        return new CallExpr(known.Function, sourceName, arguments, kind);
    }

    // Helpers being inlined, innermost last (a helper that reaches itself is recursive).
    private readonly List<IMethodSymbol> _inlining = new();

    /// <summary>
    /// A per-element call of the user's own static helper (<c>static float Sq(float x) =&gt; x * x;</c>), inlined as
    /// ComputeSharp inlines shader helpers: each parameter becomes a fresh per-element local holding its argument,
    /// the body's locals become locals of the rule, and the returned expression is the call's value. Supported
    /// bodies: an expression body, or local declarations and assignments followed by one final <c>return</c>.
    /// </summary>
    private ElementExpr InlineHelper(InvocationExpressionSyntax invocation, IMethodSymbol method, ExpressionSyntax[] arguments)
    {
        string? reason =
            !method.IsStatic ? "it is not static"
            : method.IsGenericMethod ? "it is generic"
            : method.ReturnsVoid ? "it returns nothing"
            : method.Parameters.Any(p => p.RefKind is RefKind.Ref or RefKind.Out) ? "it has ref or out parameters"
            : arguments.Any(a => a is null) ? "an argument is left to its default"
            : _inlining.Any(m => SymbolEqualityComparer.Default.Equals(m, method)) ? "it is recursive"
            : _inlining.Count >= 8 ? "helpers nest more than 8 deep"
            : null;
        SyntaxNode? declaration = method.DeclaringSyntaxReferences[0].GetSyntax(_cancellationToken);
        ExpressionSyntax? result = null;
        var statements = new List<StatementSyntax>();
        if (reason is null)
        {
            switch (declaration)
            {
                case MethodDeclarationSyntax { ExpressionBody: { } arrow }:
                    result = arrow.Expression;
                    break;
                case MethodDeclarationSyntax { Body: { } block } when block.Statements.LastOrDefault() is ReturnStatementSyntax { Expression: { } returned }
                    && !block.Statements.Take(block.Statements.Count - 1).SelectMany(s => s.DescendantNodesAndSelf()).Any(n => n is ReturnStatementSyntax):
                    result = returned;
                    statements.AddRange(block.Statements.Take(block.Statements.Count - 1));
                    break;
                case MethodDeclarationSyntax:
                    reason = "its body is not one expression or statements ending in a single return";
                    break;
                default:
                    reason = "it is not an ordinary method";
                    break;
            }
        }
        if (reason is null && !TryKindOf(method.ReturnType, out _))
            reason = "it returns " + method.ReturnType.ToDisplayString();
        if (reason is null && _elementIfDepth > 0 && ContainsThrowingCall(declaration!))
            reason = "it calls Math.Sign or Math.Clamp and is used under a per-element condition";
        if (reason is not null)
        {
            Report(DiagnosticDescriptors.UnsupportedHelper, invocation, method.Name, reason);
            return Error();
        }

        // Arguments are evaluated in the caller's context, in order, into the parameters' locals.
        var parameterNames = new List<(IParameterSymbol Parameter, string Name, ValueKind Kind)>();
        foreach (IParameterSymbol parameter in method.Parameters)
        {
            if (!TryKindOf(parameter.Type, out ValueKind kind))
            {
                ReportBadType(arguments[parameter.Ordinal], parameter.Type);
                return Error();
            }
            string name = _names.ClaimName(parameter.Name);
            _elementNamesTaken.Add(name);
            _pending.Add(new AssignStmt(name, Declares: true, kind, To(LowerExpression(arguments[parameter.Ordinal]), kind),
                $"{parameter.Type.ToDisplayString()} {parameter.Name} = {OneLine(arguments[parameter.Ordinal].ToString())};  // {method.Name}"));
            parameterNames.Add((parameter, name, kind));
        }

        // The helper's body, lowered with its own semantic model; its parameters are per-element values.
        SemanticModel callerModel = _model;
        VaryingAnalysis callerVarying = _varying;
        int callerDepth = _elementIfDepth;
        _inlining.Add(method);
        try
        {
            _model = _model.Compilation.GetSemanticModel(declaration!.SyntaxTree);
            SyntaxNode body = (SyntaxNode?)((MethodDeclarationSyntax)declaration).Body ?? ((MethodDeclarationSyntax)declaration).ExpressionBody!;
            _varying = new VaryingAnalysis(_model, body, method.Parameters);
            foreach ((IParameterSymbol parameter, string name, ValueKind _) in parameterNames)
                _elementNames[parameter] = name;
            foreach (SyntaxNode node in body.DescendantNodes())
            {
                if ((node as VariableDeclaratorSyntax) is { } d && _model.GetDeclaredSymbol(d) is ILocalSymbol local && !_localNames.ContainsKey(local))
                    _localNames[local] = _names.ClaimName(local.Name);
            }
            foreach (StatementSyntax statement in statements)
                LowerStatementCore(statement, _pending);
            ElementExpr value = LowerExpression(result!);
            return To(value, KindOf(method.ReturnType));
        }
        finally
        {
            _model = callerModel;
            _varying = callerVarying;
            _elementIfDepth = callerDepth;
            _inlining.RemoveAt(_inlining.Count - 1);
        }
    }

    private bool ContainsThrowingCall(SyntaxNode node) =>
        node.DescendantNodes().OfType<InvocationExpressionSyntax>().Any(i =>
            _model.Compilation.GetSemanticModel(i.SyntaxTree).GetSymbolInfo(i).Symbol is IMethodSymbol { Name: "Sign" or "Clamp" });

    /// <summary>The floating type an int-valued call converts to: implicitly where it is used, or by an enclosing cast.</summary>
    private ITypeSymbol? SignTargetType(ExpressionSyntax call)
    {
        ITypeSymbol? converted = _model.GetTypeInfo(call).ConvertedType;
        if (IsFloatingPoint(converted))
            return converted;
        SyntaxNode? parent = call.Parent;
        while (parent is ParenthesizedExpressionSyntax)
            parent = parent.Parent;
        return parent is CastExpressionSyntax cast && _model.GetTypeInfo(cast).Type is { } type && IsFloatingPoint(type) ? type : null;
    }

    /// <summary>
    /// <c>Math.Pow(x, n)</c> with a constant integer 0 ≤ n ≤ 4 and a per-element x: repeated multiplication, the
    /// same in the scalar tail and every vector width (documented: it may differ from the C runtime's pow in the
    /// last bit; write <c>x * x</c> in the rule to match it exactly).
    /// </summary>
    private ElementExpr LowerPower(InvocationExpressionSyntax invocation, ExpressionSyntax @base, ExpressionSyntax exponent, ITypeSymbol type)
    {
        Optional<object?> constant = _model.GetConstantValue(exponent);
        double n = constant.HasValue && constant.Value is not null ? System.Convert.ToDouble(constant.Value, CultureInfo.InvariantCulture) : double.NaN;
        if (_varying.DependsOnVarying(exponent) || n is not (0 or 1 or 2 or 3 or 4))
        {
            Report(DiagnosticDescriptors.UnknownMethod, invocation, "Pow with an exponent other than a constant 0, 1, 2, 3 or 4");
            return Error();
        }
        ValueKind kind = KindOf(type);
        if (n == 0)
            return new UniformExpr(HoistConstant(1, "one", KeywordOf(kind)), kind);  // pow(x, 0) is 1, NaN included
        ElementExpr x = To(LowerExpression(@base), kind);
        ElementExpr Times(ElementExpr a, ElementExpr b) => new BinaryExpr(BinaryOp.Multiply, a, b, kind);
        return n switch
        {
            1 => x,
            2 => Times(x, x),
            3 => Times(Times(x, x), x),
            _ => Times(Times(x, x), Times(x, x)),
        };
    }

    /// <summary>Checks the type and implicit conversion of a per-element expression.</summary>
    private bool CheckElementValue(ExpressionSyntax expression, TypeInfo info)
    {
        if (info.Type is null)
            return false; // an error the compiler already reports
        bool isSign = expression is InvocationExpressionSyntax && _model.GetSymbolInfo(expression).Symbol is IMethodSymbol { Name: "Sign" }
            && info.Type.SpecialType == SpecialType.System_Int32;
        if (isSign)
        {
            // Math.Sign returns int; it may only be used where it converts to a floating type (implicitly or by a cast).
            if (SignTargetType(expression) is not null)
                return true;
            ReportBadType(expression, info.ConvertedType ?? info.Type);
            return false;
        }
        if (!TryKindOf(info.Type, out _))
        {
            ReportBadType(expression, info.Type);
            return false;
        }
        if (info.ConvertedType is { } converted && !TryKindOf(converted, out _))
        {
            ReportBadType(expression, converted);
            return false;
        }
        return true;
    }

    // ---- Hoisting ---------------------------------------------------------------------------

    /// <summary>Hoists a uniform expression used in per-element code; returns its broadcast.</summary>
    private ElementExpr Hoist(ExpressionSyntax expression)
    {
        if (!CheckUniformCode(expression) || !CheckReachedByEveryElement(expression))
            return Error();

        TypeInfo info = _model.GetTypeInfo(expression);
        ITypeSymbol? type = info.ConvertedType ?? info.Type;
        if (type is null)
            return Error();
        if (!TryKindOf(type, out ValueKind kind))
        {
            ReportBadType(expression, type);
            return Error();
        }
        string keyword = KeywordOf(kind);

        foreach (IdentifierNameSyntax id in expression.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>())
        {
            if (_varying.SymbolOf(id) is ILocalSymbol local)
                _uniformLocalsReadPerElement.Add(local);
        }

        Optional<object?> constant = _model.GetConstantValue(expression);
        if (constant.HasValue && constant.Value is not null && !kind.IsMask())
            return new UniformExpr(HoistConstant(constant.Value, null, keyword, expression), kind);

        // A uniform parameter or local of exactly the right type needs no copy.
        if (expression is IdentifierNameSyntax plain && SymbolEqualityComparer.Default.Equals(info.Type, type)
            && _varying.SymbolOf(plain) is IParameterSymbol or ILocalSymbol)
        {
            string name = _varying.SymbolOf(plain) is ILocalSymbol l ? LocalName(l) : Escape(plain.Identifier.ValueText);
            AddKernelInput(name, keyword);
            return new UniformExpr(name, kind);
        }

        string text = Rewrite(expression);
        bool converted = !SymbolEqualityComparer.Default.Equals(info.Type, type);
        if (converted)
            text = $"({keyword})({text})";
        return new UniformExpr(Declare(keyword, text, expression, converted || expression is CastExpressionSyntax ? keyword : null), kind);
    }

    private string HoistCondition(ExpressionSyntax condition)
    {
        CheckUniformCode(condition);
        CheckReachedByEveryElement(condition);
        if (condition is IdentifierNameSyntax plain && _varying.SymbolOf(plain) is IParameterSymbol or ILocalSymbol)
        {
            string name = _varying.SymbolOf(plain) is ILocalSymbol l ? LocalName(l) : Escape(plain.Identifier.ValueText);
            AddKernelInput(name, "bool");
            return name;
        }
        return Declare("bool", Rewrite(condition), condition);
    }

    private string HoistConstant(object value, string? nameHint, string keyword, ExpressionSyntax? source = null)
    {
        string text = Literals.Format(value, keyword);
        string key = keyword + ":" + text;
        if (_hoistedByText.TryGetValue(key, out string? existing))
            return existing;
        string? convertedTo = keyword != _elementKeyword ? keyword : null;   // `zeroAsDouble` beside `zero`
        string name = nameHint is not null ? _names.ClaimName(nameHint) : _names.Claim(LiteralFor(value) ?? source!, "constant", convertedTo);
        _hoistedByText[key] = name;
        _prologue.Add($"{keyword} {name} = {text};");
        AddKernelInput(name, keyword);
        return name;
    }


    // Names a constant after its shortest round-trip text in its own type (1e-15f → c1Em15, not its double widening).
    private static ExpressionSyntax? LiteralFor(object value) => value switch
    {
        float f => SyntaxFactory.ParseExpression(Literals.Format(f, "float").TrimEnd('f')),
        double or int or long => SyntaxFactory.ParseExpression(Literals.Format(value, "double").TrimEnd('d')),
        _ => null,
    };

    private string Declare(string keyword, string text, ExpressionSyntax source, string? convertedTo = null)
    {
        // Under a uniform condition, a value that may throw is computed only where the rule computes it.
        bool conditional = _uniformPath.Count > 0 && ThrowAnalysis.Reason(_model, source) is not null;
        string key = keyword + ":" + text + (conditional ? " if " + PathText() : "");
        if (!_hoistedByText.TryGetValue(key, out string? name))
        {
            name = _names.Claim(source, keyword == "bool" ? "condition" : "hoisted", convertedTo);
            _hoistedByText[key] = name;
            if (conditional)
            {
                _prologue.Add($"{keyword} {name} = default;");
                _prologue.Add($"if ({PathText()})\n{{\n    {name} = {text};\n}}");
            }
            else
                _prologue.Add($"{keyword} {name} = {text};");
        }
        AddKernelInput(name, keyword);
        return name;
    }

    private void AddKernelInput(string name, string type)
    {
        if (_kernelInputNames.Add(name))
            _kernelInputs.Add(new KernelInputSpec(name, ScalarTypes.FromKeyword(type)));
    }

    /// <summary>Reports constructs that are wrong even in uniform code. Returns false if any was found.</summary>
    private bool CheckUniformCode(SyntaxNode node)
    {
        bool ok = true;
        foreach (SyntaxNode n in node.DescendantNodesAndSelf(descendIntoChildren: c => c is not ThrowStatementSyntax and not ThrowExpressionSyntax))
        {
            switch (n)
            {
                case ThrowStatementSyntax or ThrowExpressionSyntax:
                    // Validation of hyperparameters: runs once per call, before any element is written.
                    break;
                case ReturnStatementSyntax:
                    Report(DiagnosticDescriptors.ReturnInRule, n);
                    ok = false;
                    break;
                case TryStatementSyntax:
                    Report(DiagnosticDescriptors.ExceptionInRule, n, "try");
                    ok = false;
                    break;
                case RefExpressionSyntax or RefTypeSyntax:
                    Report(DiagnosticDescriptors.RefLocal, n);
                    ok = false;
                    break;
                case ArrayCreationExpressionSyntax or ImplicitArrayCreationExpressionSyntax or StackAllocArrayCreationExpressionSyntax
                    or ImplicitStackAllocArrayCreationExpressionSyntax or InterpolatedStringExpressionSyntax or CollectionExpressionSyntax
                    or AnonymousObjectCreationExpressionSyntax or LambdaExpressionSyntax or AnonymousMethodExpressionSyntax:
                    Report(DiagnosticDescriptors.Allocation, n, n.ToString());
                    ok = false;
                    break;
                case BaseObjectCreationExpressionSyntax creation when _model.GetTypeInfo(creation).Type is { IsReferenceType: true }:
                    Report(DiagnosticDescriptors.Allocation, n, n.ToString());
                    ok = false;
                    break;
                case LocalFunctionStatementSyntax:
                    Report(DiagnosticDescriptors.UnsupportedStatement, n, "local function");
                    ok = false;
                    break;
                case GotoStatementSyntax @goto:
                    // Hoisting moves statements one by one; a jump could lose its label.
                    Report(DiagnosticDescriptors.UnsupportedStatement, @goto.GotoKeyword, "goto");
                    ok = false;
                    break;
                case LabeledStatementSyntax label:
                    Report(DiagnosticDescriptors.UnsupportedStatement, label.Identifier, "labeled");
                    ok = false;
                    break;
                case ExpressionStatementSyntax { Expression: var e } when !IsLocalMutation(e):
                    Report(DiagnosticDescriptors.SideEffect, n, n.ToString().Trim());
                    ok = false;
                    break;
            }
        }
        return ok;
    }

    /// <summary>Whether an expression statement only changes locals of the rule (anything else is a side effect).</summary>
    private bool IsLocalMutation(ExpressionSyntax expression)
    {
        if (expression is InvocationExpressionSyntax invocation)
            return IsThrowHelper(invocation);
        ExpressionSyntax? target = expression switch
        {
            AssignmentExpressionSyntax a => a.Left,
            _ when VaryingAnalysis.IsIncrementOrDecrement(expression) => VaryingAnalysis.Operand(expression),
            _ => null,
        };
        return target is not null && IsLocalTarget(target);
    }

    /// <summary>A local, a discard, or a tuple of them (<c>(a, b) = (b, a)</c>).</summary>
    private bool IsLocalTarget(ExpressionSyntax target) => target switch
    {
        TupleExpressionSyntax tuple => tuple.Arguments.All(a => IsLocalTarget(a.Expression)),
        DeclarationExpressionSyntax => true,
        IdentifierNameSyntax { Identifier.ValueText: "_" } when _varying.SymbolOf(target) is null or IDiscardSymbol => true,
        _ => _varying.SymbolOf(target) is ILocalSymbol,
    };

    /// <summary>
    /// Validation through a throw helper (<c>ArgumentOutOfRangeException.ThrowIfNegative(lr)</c>, or the user's own
    /// static <c>Throw…</c> method): it has no effect but the exception, so it may run once per call.
    /// </summary>
    private bool IsThrowHelper(InvocationExpressionSyntax invocation)
    {
        if (_model.GetSymbolInfo(invocation).Symbol is not IMethodSymbol { IsStatic: true, ReturnsVoid: true } method
            || !method.Name.StartsWith("Throw", System.StringComparison.Ordinal))
            return false;
        for (ITypeSymbol? type = method.ContainingType; type is not null; type = type.BaseType)
        {
            if (type.ToDisplayString() == "System.Exception")
                return true;
        }
        // The user's own throw helper: declared in source, in this compilation.
        return method.Locations.Any(l => l.IsInSource);
    }

    private IEnumerable<ILocalSymbol> AssignedLocals(SyntaxNode node)
    {
        foreach (SyntaxNode n in node.DescendantNodesAndSelf())
        {
            ExpressionSyntax? target = n switch
            {
                AssignmentExpressionSyntax a => a.Left,
                _ when VaryingAnalysis.IsIncrementOrDecrement(n) => VaryingAnalysis.Operand(n),
                _ => null,
            };
            if (target is TupleExpressionSyntax tuple)
            {
                foreach (ArgumentSyntax argument in tuple.Arguments)
                {
                    if (_varying.SymbolOf(argument.Expression) is ILocalSymbol element)
                        yield return element;
                }
            }
            else if (target is not null && _varying.SymbolOf(target) is ILocalSymbol local)
                yield return local;
        }
    }

    // ---- Helpers ----------------------------------------------------------------------------

    private string DeclareElementLocal(ILocalSymbol local)
    {
        if (_elementNames.TryGetValue(local, out string? existing))
            return existing;
        // Per-element locals of sibling scopes share one flat scope in the emitted loop: repeats were renamed up front.
        string name = LocalName(local);
        if (!_elementNamesTaken.Add(name))
        {
            name = _names.ClaimName(local.Name);
            _elementNamesTaken.Add(name);
        }
        _elementNames[local] = name;
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

    private string PathText() => PathText(_uniformPath);

    private static string PathText(IEnumerable<(string Condition, bool WhenTrue)> path) =>
        string.Join(" && ", path.Select(p => p.WhenTrue ? p.Condition : "!" + p.Condition));

    private bool TryKindOf(ITypeSymbol? type, out ValueKind kind)
    {
        kind = ValueKind.Element;
        if (type is null)
            return false;
        if (SymbolEqualityComparer.Default.Equals(type, _elementType))
            return true;
        if (IsFloatingPoint(type))
        {
            kind = ValueKind.Other;
            return true;
        }
        kind = ValueKind.Mask;
        return type.SpecialType == SpecialType.System_Boolean;
    }

    private string KeywordOf(ValueKind kind) => kind switch
    {
        ValueKind.Element => _elementKeyword,
        ValueKind.Other => _otherKeyword,
        _ => "bool",
    };

    /// <summary>Converts a per-element value to <paramref name="kind"/> (float ↔ double, or a mask between lane types).</summary>
    private static ElementExpr To(ElementExpr value, ValueKind kind)
    {
        if (value.Kind == kind || value is UniformExpr { Name: "<error>" })
            return value;
        if (value.Kind.IsMask() != kind.IsMask())
            return value; // a type error the compiler reports
        return new ConvertExpr(value, kind);
    }

    private ValueKind KindOf(ITypeSymbol type) => TryKindOf(type, out ValueKind kind) ? kind : ValueKind.Element;

    private static bool IsFloatingPoint(ITypeSymbol? type) =>
        type?.SpecialType is SpecialType.System_Single or SpecialType.System_Double;

    private bool ReportBadType(SyntaxNode node, ITypeSymbol type)
    {
        Report(DiagnosticDescriptors.UnsupportedElementValueType, node, node.ToString(), type.ToDisplayString(), _elementKeyword);
        return false;
    }

    private static ElementExpr Error() => new UniformExpr("<error>", ValueKind.Element);

    private void Report(DiagnosticDescriptor descriptor, SyntaxNode node, params string[] args) =>
        _diagnostics.Add(new DiagnosticInfo(descriptor.Id, LocationInfo.From(node), args.ToEquatableArray()));

    private void Report(DiagnosticDescriptor descriptor, SyntaxToken token, params string[] args) =>
        _diagnostics.Add(new DiagnosticInfo(descriptor.Id, LocationInfo.From(token), args.ToEquatableArray()));

    private void Report(DiagnosticDescriptor descriptor, SyntaxToken token) =>
        _diagnostics.Add(new DiagnosticInfo(descriptor.Id, LocationInfo.From(token), EquatableArray<string>.Empty));

    private static SyntaxToken LoopKeyword(StatementSyntax loop) => loop switch
    {
        ForStatementSyntax f => f.ForKeyword,
        CommonForEachStatementSyntax f => f.ForEachKeyword,
        WhileStatementSyntax w => w.WhileKeyword,
        DoStatementSyntax d => d.DoKeyword,
        _ => loop.GetFirstToken(),
    };

    private static string StatementKeyword(StatementSyntax statement) => statement switch
    {
        SwitchStatementSyntax => "switch",
        GotoStatementSyntax => "goto",
        LabeledStatementSyntax => "labeled",
        UsingStatementSyntax => "using",
        LockStatementSyntax => "lock",
        FixedStatementSyntax => "fixed",
        UnsafeStatementSyntax => "unsafe",
        LocalFunctionStatementSyntax => "local function",
        YieldStatementSyntax => "yield",
        BreakStatementSyntax => "break",
        ContinueStatementSyntax => "continue",
        _ => statement.Kind().ToString(),
    };

    /// <summary>The statement as one line for the comment above its emitted form (a statement split over lines is joined).</summary>
    private static string SourceOf(StatementSyntax statement) => OneLine(statement.WithoutTrivia().ToString());

    private static string OneLine(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s*\r?\n\s*", " ");

    private static string Indent(string text) =>
        string.Join("\n", text.Split('\n').Select(line => "    " + line.TrimEnd('\r')));

    public static string Escape(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;
}

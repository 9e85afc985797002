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

/// <summary>Statements: declarations, assignments, per-element and uniform <c>if</c>, uniform <c>switch</c>.</summary>
internal sealed partial class RuleLowerer
{
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
        if (!CheckUniformCode(statement))
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

        _epoch++;

        _prologue.Add(Guarded(Rewrite(statement)));
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
            _prologue.Add(Guarded($"{name} = {Rewrite(declarator.Initializer.Value)};"));
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
                if (CheckUniformCode(declarator))
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
}

using System.Collections.Generic;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generator.Lowering;

/// <summary>
/// Names hoisted values after what they compute (<c>1 - beta1</c> → <c>oneMinusBeta1</c>,
/// <c>lr / bc1</c> → <c>lrOverBc1</c>), so the emitted code reads like the rule.
/// </summary>
internal sealed class HoistedNames
{
    private const int MaxLength = 40;

    // Names the emitted code declares itself.
    private static readonly string[] s_reserved =
    {
        "i", "length", "threads", "kernel", "options", "buffers", "start", "end", "offset", "blockEnd",
    };

    private readonly HashSet<string> _taken = new();

    public HoistedNames(IEnumerable<string> ruleNames)
    {
        foreach (string name in s_reserved)
            _taken.Add(name);
        foreach (string name in ruleNames)
            _taken.Add(name);
    }

    /// <summary>Claims a fresh name based on <paramref name="expression"/>.</summary>
    /// <param name="expression">What the value computes.</param>
    /// <param name="fallback">Name to use when the expression is too long to describe.</param>
    /// <param name="convertedTo">The element type when the value is a conversion (<c>(float)beta2</c> → <c>beta2AsFloat</c> rather than <c>beta22</c>).</param>
    public string Claim(ExpressionSyntax expression, string fallback, string? convertedTo = null)
    {
        var builder = new StringBuilder();
        Describe(expression, builder);
        string baseName = builder.Length == 0 ? fallback : LowerFirst(Shorten(builder.ToString()));
        if (convertedTo is not null && _taken.Contains(baseName))
            baseName += "As" + UpperFirst(convertedTo);
        return ClaimName(baseName);
    }

    public string ClaimName(string baseName)
    {
        if (SyntaxFacts.GetKeywordKind(baseName) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(baseName) != SyntaxKind.None)
            baseName += "Value";
        string name = baseName;
        for (int n = 2; !_taken.Add(name); n++)
            name = baseName + n.ToString(CultureInfo.InvariantCulture);
        return name;
    }

    /// <summary>A long description is cut at a word (capital letter) boundary rather than replaced by a generic name.</summary>
    private static string Shorten(string description)
    {
        if (description.Length <= MaxLength)
            return description;
        int cut = MaxLength;
        while (cut > 8 && !char.IsUpper(description[cut]))
            cut--;
        return description.Substring(0, cut);
    }

    private static void Describe(ExpressionSyntax e, StringBuilder sb)
    {
        switch (e)
        {
            case ParenthesizedExpressionSyntax p:
                Describe(p.Expression, sb);
                break;
            case CastExpressionSyntax c:
                Describe(c.Expression, sb);
                break;
            case IdentifierNameSyntax id:
                sb.Append(UpperFirst(id.Identifier.ValueText));
                break;
            case MemberAccessExpressionSyntax m:
                sb.Append(UpperFirst(m.Name.Identifier.ValueText));
                break;
            case LiteralExpressionSyntax lit:
                sb.Append(DescribeLiteral(lit));
                break;
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.UnaryMinusExpression):
                sb.Append("Minus");
                Describe(u.Operand, sb);
                break;
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.LogicalNotExpression):
                sb.Append("Not");
                Describe(u.Operand, sb);
                break;
            case BinaryExpressionSyntax b:
                Describe(b.Left, sb);
                sb.Append(b.Kind() switch
                {
                    SyntaxKind.AddExpression => "Plus",
                    SyntaxKind.SubtractExpression => "Minus",
                    SyntaxKind.MultiplyExpression => "Times",
                    SyntaxKind.DivideExpression => "Over",
                    SyntaxKind.LessThanExpression => "LessThan",
                    SyntaxKind.LessThanOrEqualExpression => "AtMost",
                    SyntaxKind.GreaterThanExpression => "GreaterThan",
                    SyntaxKind.GreaterThanOrEqualExpression => "AtLeast",
                    SyntaxKind.EqualsExpression => "Is",
                    SyntaxKind.NotEqualsExpression => "IsNot",
                    SyntaxKind.LogicalAndExpression => "And",
                    SyntaxKind.LogicalOrExpression => "Or",
                    _ => "Op",
                });
                Describe(b.Right, sb);
                break;
            case InvocationExpressionSyntax call:
                if (call.Expression is MemberAccessExpressionSyntax target)
                    sb.Append(UpperFirst(target.Name.Identifier.ValueText));
                else if (call.Expression is IdentifierNameSyntax name)
                    sb.Append(UpperFirst(name.Identifier.ValueText));
                foreach (ArgumentSyntax arg in call.ArgumentList.Arguments)
                    Describe(arg.Expression, sb);
                break;
            default:
                sb.Append("Value");
                break;
        }
    }

    private static string DescribeLiteral(LiteralExpressionSyntax literal)
    {
        switch (literal.Token.Value)
        {
            case bool b:
                return b ? "True" : "False";
            case int or long or float or double or decimal or uint or ulong:
                double value = System.Convert.ToDouble(literal.Token.Value, CultureInfo.InvariantCulture);
                if (value == 0) return "Zero";
                if (value == 1) return "One";
                if (value == 2) return "Two";
                if (value == 0.5) return "Half";
                string text = value.ToString("R", CultureInfo.InvariantCulture).Replace('.', '_').Replace('-', 'm').Replace('+', 'p');
                return "C" + text;
            default:
                return "Value";
        }
    }

    private static string UpperFirst(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s.Substring(1);

    private static string LowerFirst(string s) => s.Length == 0 ? s : char.ToLowerInvariant(s[0]) + s.Substring(1);
}

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
internal sealed partial class RuleLowerer
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
        FindMutated(body);
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
    private string Rewrite(SyntaxNode node)
    {
        _mayFault |= ThrowAnalysis.Reason(_model, node) is not null;
        return UniformRewriter.Rewrite(_model, node, _localNames);
    }

    private string LocalName(ISymbol local) => _localNames.TryGetValue(local, out string? name) ? name : Escape(local.Name);

    public IReadOnlyList<string> Prologue => _prologue;

    public IReadOnlyList<KernelInputSpec> KernelInputs => _kernelInputs;

    public EquatableArray<ElementStmt> LowerBody(SyntaxNode body)
    {
        var output = new List<ElementStmt>();
        _ruleBody = body;
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
        // One report per local: its declaration is the problem, not each later use.
        ISymbol? local = node is VariableDeclaratorSyntax ? _varying.SymbolOf(node) : node is IdentifierNameSyntax ? _varying.SymbolOf(node) : null;
        if (local is ILocalSymbol && !_badLocals.Add(local))
            return false;
        Report(DiagnosticDescriptors.UnsupportedElementValueType, node, node.ToString(), type.ToDisplayString(), _elementKeyword);
        return false;
    }

    private readonly HashSet<ISymbol> _badLocals = new(SymbolEqualityComparer.Default);

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

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using CsCheck;

namespace Kernels.Tests.Fuzzing;

/// <summary>The value types a rule's expressions can have.</summary>
public enum Ty { Float, Double, Int, Long, Bool }

/// <summary>
/// One expression node. A single node type (kind + text + children) keeps the printer and the
/// reducer generic: the reducer may replace any node by a child of the same type.
/// </summary>
public sealed record E(string Kind, Ty Type, bool Varying, string Text, ImmutableArray<E> Args, string? Feature = null)
{
    public static E Var(string name, Ty t, bool varying) => new("var", t, varying, name, ImmutableArray<E>.Empty);
    public static E Lit(string text, Ty t) => new("lit", t, false, text, ImmutableArray<E>.Empty);
    public static E Raw(string text, Ty t, bool varying, string? feature = null) => new("raw", t, varying, text, ImmutableArray<E>.Empty, feature);
    public static E Un(string op, E a) => new("un", a.Type, a.Varying, op, ImmutableArray.Create(a));
    public static E Bin(string op, Ty t, E a, E b) => new("bin", t, a.Varying || b.Varying, op, ImmutableArray.Create(a, b));
    public static E Cond(E c, E a, E b) => new("cond", a.Type, c.Varying || a.Varying || b.Varying, "?:", ImmutableArray.Create(c, a, b));
    public static E Call(string callee, Ty t, string? feature, params E[] args) => new("call", t, args.Any(a => a.Varying), callee, args.ToImmutableArray(), feature);
    public static E Cast(Ty t, E a) => new("cast", t, a.Varying, RuleGrammar.TypeName(t), ImmutableArray.Create(a));

    public string Print() => Kind switch
    {
        "var" or "lit" or "raw" => Text,
        // Unary minus of anything but an atom gets parentheses, so -(-g) is written as the user would.
        "un" => Text + Operand(Args[0], atomsOnly: true),
        "bin" => Operand(Args[0]) + " " + Text + " " + Operand(Args[1]),
        "cond" => Operand(Args[0]) + " ? " + Operand(Args[1]) + " : " + Operand(Args[2]),
        "call" => Text + "(" + string.Join(", ", Args.Select(a => a.Print())) + ")",
        "cast" => "(" + Text + ")" + Operand(Args[0], atomsOnly: true),
        _ => throw new InvalidOperationException(Kind),
    };

    private static string Operand(E e, bool atomsOnly = false)
    {
        bool atom = e.Kind is "var" or "call" || (e.Kind == "lit" && !e.Text.StartsWith('-'));
        return atom || (!atomsOnly && e.Kind is "cast") ? e.Print() : "(" + e.Print() + ")";
    }

    public IEnumerable<E> Walk() => new[] { this }.Concat(Args.SelectMany(a => a.Walk()));
}

/// <summary>A statement of a rule body.</summary>
public abstract record Stmt
{
    public abstract void Print(StringBuilder sb, string indent);
    public virtual IEnumerable<E> Exprs() => Enumerable.Empty<E>();
    public virtual IEnumerable<Stmt> Children() => Enumerable.Empty<Stmt>();
    public virtual string? Feature => null;
}

public sealed record DeclStmt(Ty Type, string Name, E Init) : Stmt
{
    public override void Print(StringBuilder sb, string indent) => sb.Append(indent).Append(RuleGrammar.TypeName(Type)).Append(' ').Append(Name).Append(" = ").Append(Init.Print()).Append(";\n");
    public override IEnumerable<E> Exprs() => new[] { Init };
}

public sealed record AssignStmt(string Target, string Op, E Value) : Stmt
{
    public override void Print(StringBuilder sb, string indent) => sb.Append(indent).Append(Text).Append(";\n");
    public string Text => Target + " " + Op + " " + Value.Print();
    public override IEnumerable<E> Exprs() => new[] { Value };
}

public sealed record IncDecStmt(string Target, string Op, bool Prefix) : Stmt
{
    public override void Print(StringBuilder sb, string indent) => sb.Append(indent).Append(Prefix ? Op + Target : Target + Op).Append(";\n");
}

public sealed record IfStmt(E Cond, ImmutableArray<Stmt> Then, ImmutableArray<Stmt>? Else) : Stmt
{
    public override void Print(StringBuilder sb, string indent)
    {
        sb.Append(indent).Append("if (").Append(Cond.Print()).Append(")\n");
        Block(sb, indent, Then);
        if (Else is { } e)
        {
            if (e.Length == 1 && e[0] is IfStmt nested)
            {
                // else if: print the nested if on the else line.
                var inner = new StringBuilder();
                nested.Print(inner, indent);
                sb.Append(indent).Append("else ").Append(inner.ToString().TrimStart());
            }
            else
            {
                sb.Append(indent).Append("else\n");
                Block(sb, indent, e);
            }
        }
    }

    private static void Block(StringBuilder sb, string indent, ImmutableArray<Stmt> stmts)
    {
        sb.Append(indent).Append("{\n");
        foreach (Stmt s in stmts)
            s.Print(sb, indent + "    ");
        sb.Append(indent).Append("}\n");
    }

    public override IEnumerable<E> Exprs() => new[] { Cond };
    public override IEnumerable<Stmt> Children() => Then.Concat(Else ?? ImmutableArray<Stmt>.Empty);
}

/// <summary>A template statement printed verbatim (loops, goto, switch, throw, …); <see cref="Feature"/> tags what it exercises.</summary>
public sealed record RawStmt(string Text, string? Tag = null) : Stmt
{
    public override void Print(StringBuilder sb, string indent)
    {
        foreach (string line in Text.Split('\n'))
            sb.Append(indent).Append(line).Append('\n');
    }
    public override string? Feature => Tag;
}

public enum ParamKind { Ref, In, Uniform, Out }

public sealed record Param(string Name, ParamKind Kind, Ty Type, string? Default, bool Marked = false, bool NonNegative = false)
{
    public string Print()
    {
        string mod = Kind switch { ParamKind.Ref => "ref ", ParamKind.In => "in ", ParamKind.Out => "out ", _ => "" };
        string name = Marked ? "[|" + Name + "|]" : Name;
        // A state buffer marked for the unsigned 8-bit map: the optimizer object must still compile cleanly.
        string attribute = NonNegative ? "[global::Kernels.NonNegative] " : "";
        return attribute + mod + RuleGrammar.TypeName(Type) + " " + name + (Default is null ? "" : " = " + Default);
    }
}

public sealed record TypeDecl(string Kind, string Name, bool Static, bool Partial = true, bool Generic = false, bool Marked = false)
{
    public string Header()
    {
        string name = Marked ? "[|" + Name + "|]" : Name;
        return "public " + (Static ? "static " : "") + (Partial ? "partial " : "") + Kind + " " + name + (Generic ? "<TT>" : "");
    }
}

/// <summary>One rule: where it is declared, its signature and its body.</summary>
public sealed record Rule(
    string? Namespace, ImmutableArray<TypeDecl> Types, string Method, Ty Elem,
    ImmutableArray<Param> Params, ImmutableArray<Stmt> Body,
    bool ExpressionBodied = false, bool Static = true, bool MarkMethod = false, string ReturnType = "void", bool Helpers = false,
    string? ExpectedId = null)
{
    /// <summary>Every statement, nested ones included.</summary>
    public IEnumerable<Stmt> AllStmts() => Body.SelectMany(Flatten);
    private static IEnumerable<Stmt> Flatten(Stmt s) => new[] { s }.Concat(s.Children().SelectMany(Flatten));

    /// <summary>Tags of the constructs the rule uses ("future:…", "ulp", "sign").</summary>
    public ImmutableHashSet<string> Features()
    {
        var set = new HashSet<string>();
        foreach (Stmt s in AllStmts())
        {
            if (s.Feature is { } f) set.Add(f);
            foreach (E e in s.Exprs().SelectMany(x => x.Walk()))
                if (e.Feature is { } g) set.Add(g);
        }
        return set.ToImmutableHashSet();
    }

    public bool IsFuture => Features().Any(f => f.StartsWith("future:", StringComparison.Ordinal));

    /// <summary>The C# text of the rule (with <c>[|…|]</c> markers where a diagnostic is expected).</summary>
    public string Print()
    {
        var sb = new StringBuilder();
        string indent = "";
        if (Namespace is not null)
        {
            sb.Append("namespace ").Append(Namespace).Append("\n{\n");
            indent = "    ";
        }
        foreach (TypeDecl t in Types)
        {
            sb.Append(indent).Append(t.Header()).Append('\n').Append(indent).Append("{\n");
            indent += "    ";
        }
        if (Helpers)
        {
            sb.Append(indent).Append("static float Sq(float x) => x * x;\n");
            sb.Append(indent).Append("static double Sq(double x) => x * x;\n");
        }
        sb.Append(indent).Append("[UpdateRule]\n");
        string method = MarkMethod ? "[|" + Method + "|]" : Method;
        sb.Append(indent).Append("public ").Append(Static ? "static " : "").Append(ReturnType).Append(' ').Append(method)
          .Append('(').Append(string.Join(", ", Params.Select(p => p.Print()))).Append(')');
        if (ExpressionBodied && Body.Length == 1 && Body[0] is AssignStmt a)
        {
            sb.Append(" => ").Append(a.Text).Append(";\n");
        }
        else
        {
            sb.Append('\n').Append(indent).Append("{\n");
            foreach (Stmt s in Body)
                s.Print(sb, indent + "    ");
            sb.Append(indent).Append("}\n");
        }
        for (int i = Types.Length - 1; i >= 0; i--)
        {
            indent = indent.Substring(4);
            sb.Append(indent).Append("}\n");
        }
        if (Namespace is not null)
            sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>The fully qualified C# name of the rule's innermost type.</summary>
    public string QualifiedType() => "global::" + (Namespace is null ? "" : Namespace + ".") + string.Join(".", Types.Select(t => t.Name));
}

/// <summary>What the grammar may produce.</summary>
public sealed record GrammarOptions(bool Templates = true, bool Future = true, bool Odd = true)
{
    public static readonly GrammarOptions Valid = new();
    /// <summary>Hosts for injected constructs: plain rules, so the injected diagnostic is the only one expected.</summary>
    public static readonly GrammarOptions Host = new(Templates: false, Future: false);
}

/// <summary>A variable in scope while generating a body.</summary>
public sealed record Var(string Name, Ty Type, bool Varying, bool Assignable, bool Buffer = false);

/// <summary>Scope while generating statements: variables, reserved names, uniform names per-element code has read.</summary>
public sealed record Ctx(
    Ty Elem, ImmutableList<Var> Vars, ImmutableHashSet<string> Names, ImmutableHashSet<string> Frozen,
    bool InVaryingBranch, int Depth, GrammarOptions O)
{
    public Ctx Declare(Var v) => this with { Vars = Vars.Add(v), Names = Names.Add(v.Name).Add(v.Name.TrimStart('@')) };

    /// <summary>The scope after a block nested in this one: its declarations are gone, its names stay reserved.</summary>
    public Ctx AfterBlock(Ctx inner) => this with { Names = Names.Union(inner.Names), Frozen = Frozen.Union(inner.Frozen) };

    /// <summary>
    /// Uniform variables read by per-element code used to be frozen (KRN0112); the generator now copies a reassigned
    /// variable where it is read, so they stay assignable and the fuzzer exercises that.
    /// </summary>
    public Ctx Reads(E e) => this;

    /// <summary>Everything a statement that writes per-element state reads is read by per-element code.</summary>
    public Ctx ReadsAlways(E e) => (this with { InVaryingBranch = true }).Reads(e) with { InVaryingBranch = InVaryingBranch };

    public string Fresh(string baseName) => Names.Contains(baseName.TrimStart('@')) ? Fresh2(baseName) : baseName;
    private string Fresh2(string baseName)
    {
        for (int i = Names.Count; ; i++)
            if (!Names.Contains((baseName + i).TrimStart('@'))) return baseName + i;
    }
}

/// <summary>CsCheck generators of rules: type-directed, so every printed rule compiles on its own.</summary>
public static class RuleGrammar
{
    public static string TypeName(Ty t) => t switch { Ty.Float => "float", Ty.Double => "double", Ty.Int => "int", Ty.Long => "long", _ => "bool" };

    // Names: ordinary, C# keywords (written with @), and names the generated code itself uses.
    private static readonly string[] s_plainNames = { "p", "g", "m", "v", "s", "lr", "beta", "eps", "k", "flag", "decay", "x", "y", "a", "b", "w", "param", "grad" };
    private static readonly string[] s_keywordNames = { "@in", "@fixed", "@class", "@event", "@params", "@ref", "@out", "@float", "@double", "@default", "@checked", "@base", "@this", "@return", "@var", "await", "async", "var", "dynamic", "field", "scoped", "record", "_" };
    private static readonly string[] s_generatedNames =
    {
        "nameof", "i", "length", "options", "kernel", "threads", "count", "tensor", "total", "at", "mask", "maskThen1", "Inputs", "Run", "Run512",
        "Block512", "RunScalar", "Execute", "ChunkAlignment", "stream", "index", "value", "T", "global", "buffers", "start", "end", "offset",
        "zero", "one", "minusOne", "half", "two", "lrAsFloat", "oneMinusBeta", "StepKernel", "accelerator", "view", "tensors", "lengths", "Vector512", "Vector256",
    };

    private static readonly string[] s_namespaces = { "N", "A.B.C", "@class", "@event.Inner", "My.@class", "Kernels.Optimizers", "Kernels.Fuzz", "System.Fuzz" };
    private static readonly string[] s_typeNames = { "R", "Rules", "Opt", "@class", "@event", "@struct", "@static", "StepOptions", "ParallelStep", "Vector512", "Span", "MemoryMarshal", "Unsafe", "MemoryExtensions" };
    private static readonly string[] s_methodNames = { "Update", "Step", "@fixed", "@event", "@in", "@class", "Run", "Execute", "Kernel", "StepKernel", "Equals", "Invoke", "Apply", "RunScalar", "Block512" };

    /// <summary>Lazy weighted choice: only the chosen alternative's generator is built (the grammar is recursive).</summary>
    public static Gen<T> Pick<T>(params (int Weight, Func<Gen<T>> Make)[] options)
    {
        var live = options.Where(o => o.Weight > 0).ToArray();
        int total = live.Sum(o => o.Weight);
        return Gen.Int[0, total - 1].SelectMany(r =>
        {
            foreach (var o in live)
            {
                if (r < o.Weight) return o.Make();
                r -= o.Weight;
            }
            throw new InvalidOperationException();
        });
    }

    private static Gen<T> One<T>(IReadOnlyList<T> items) => Gen.Int[0, items.Count - 1].Select(i => items[i]);

    private static Gen<string> Name(IReadOnlyCollection<string> extraCollisions) => Pick(
        (6, () => One(s_plainNames)),
        (2, () => One(s_keywordNames)),
        (2, () => One(s_generatedNames)),
        (extraCollisions.Count > 0 ? 2 : 0, () => One(extraCollisions.ToArray())));

    // ---- Literals --------------------------------------------------------------------------------------
    private static readonly string[] s_floatLits = { "0f", "1f", "-1f", "0.5f", "2f", "1e-8f", "3.5f", "0.9f", "1e30f", "-0f", "float.Epsilon", "0.999f" };
    private static readonly string[] s_doubleLits = { "0.0", "1.0", "0.5", "2.0", "-1.5", "1e-8", "1e300", "0.9", "-0.0", "double.Epsilon" };
    private static readonly string[] s_intLits = { "0", "1", "2", "3", "-1", "100" };
    private static readonly string[] s_longLits = { "0L", "1L", "7L", "-5L", "1099511627776L" };

    private static Gen<E> Lit(Ty t) => t switch
    {
        Ty.Float => One(s_floatLits).Select(s => E.Lit(s, t)),
        Ty.Double => One(s_doubleLits).Select(s => E.Lit(s, t)),
        Ty.Int => One(s_intLits).Select(s => E.Lit(s, t)),
        Ty.Long => One(s_longLits).Select(s => E.Lit(s, t)),
        _ => Gen.Bool.Select(b => E.Lit(b ? "true" : "false", t)),
    };

    // ---- Expressions (type-directed) ------------------------------------------------------------------
    public static Gen<E> Expr(Ctx c, Ty t, bool vary, int depth)
    {
        Var[] vars = c.Vars.Where(v => v.Type == t && (vary || !v.Varying)).ToArray();
        bool real = t is Ty.Float or Ty.Double;
        bool deep = depth > 0;
        Ty other = t == Ty.Float ? Ty.Double : Ty.Float;
        // Varying values are what the generator must vectorize: prefer them when allowed.
        int varWeight = vars.Length == 0 ? 0 : (vars.Any(v => v.Varying) ? 8 : 5);
        return Pick(
            (varWeight, () => One(vars).Select(v => E.Var(v.Name, v.Type, v.Varying))),
            (3, () => Lit(t)),
            (real && deep ? 6 : 0, () => Gen.Select(One(new[] { "+", "-", "*", "/" }), Expr(c, t, vary, depth - 1), Expr(c, t, vary, depth - 1), (op, a, b) => E.Bin(op, t, a, b))),
            (real && deep ? 1 : 0, () => Expr(c, t, vary, depth - 1).Select(a => E.Bin("-", t, E.Lit("1", t), a))),
            (real && deep ? 2 : 0, () => Expr(c, t, vary, depth - 1).Select(a => E.Un("-", a))),
            (real && deep ? 1 : 0, () => Expr(c, t, vary, depth - 1).Select(a => E.Un("-", E.Un("-", a)))),
            (real && deep ? 5 : 0, () => MathCall(c, t, vary, depth - 1)),
            (real && deep ? 2 : 0, () => Expr(c, other, vary, depth - 1).Select(a => E.Cast(t, a))),
            (real && deep ? 1 : 0, () => Expr(c, Ty.Int, false, depth - 1).Select(a => E.Cast(t, a))),
            (deep && t != Ty.Bool ? 2 : 0, () => Gen.Select(Expr(c, Ty.Bool, vary, depth - 1), Expr(c, t, vary, depth - 1), Expr(c, t, vary, depth - 1), E.Cond)),
            (t is Ty.Int or Ty.Long && deep ? 3 : 0, () => Gen.Select(One(new[] { "+", "-", "*" }), Expr(c, t, false, depth - 1), Expr(c, t, false, depth - 1),
                // unchecked: constant operands must not overflow at compile time (CS0220).
                (op, a, b) => E.Call("unchecked", t, null, E.Bin(op, t, a, b)))),
            (t == Ty.Long && deep ? 1 : 0, () => Expr(c, Ty.Int, false, depth - 1).Select(a => E.Cast(Ty.Long, a))),
            (t == Ty.Bool && deep ? 6 : 0, () => Compare(c, vary, depth - 1)),
            (t == Ty.Bool && deep ? 3 : 0, () => Gen.Select(One(new[] { "&&", "||", "^" }), Expr(c, Ty.Bool, vary, depth - 1), Expr(c, Ty.Bool, vary, depth - 1), (op, a, b) => E.Bin(op, Ty.Bool, a, b))),
            (t == Ty.Bool && deep ? 1 : 0, () => Expr(c, Ty.Bool, vary, depth - 1).Select(a => E.Un("!", a))),
            (t == Ty.Bool && deep && c.O.Future ? 1 : 0, () => Gen.Select(One(new[] { "IsNaN", "IsFinite", "IsInfinity" }), Expr(c, c.Elem, vary, depth - 1),
                (f, a) => E.Call(TypeName(a.Type) + "." + f, Ty.Bool, a.Varying ? "future:" + TypeName(a.Type) + "." + f + " per element" : null, a))));
    }

    private static Gen<E> Compare(Ctx c, bool vary, int depth) =>
        Gen.Select(One(new[] { Ty.Float, Ty.Double, Ty.Int }), One(new[] { "<", "<=", ">", ">=", "==", "!=" }), (t, op) => (t, op))
           .SelectMany(x => Gen.Select(Expr(c, x.t, vary && x.t != Ty.Int, depth), Expr(c, x.t, vary && x.t != Ty.Int, depth), (a, b) => E.Bin(x.op, Ty.Bool, a, b)));

    // Which class offers which method for float / double arguments (so overload resolution returns the element type).
    private static string[] Owners(Ty t, string m) => (t, m) switch
    {
        (Ty.Float, "Clamp") => new[] { "Math", "float" },
        (Ty.Float, "Abs" or "Max" or "Min" or "Sign") => new[] { "MathF", "Math", "float" },
        (Ty.Float, _) => new[] { "MathF", "float" },
        (_, _) => new[] { "Math", "double" },
    };

    private static Gen<E> MathCall(Ctx c, Ty t, bool vary, int depth)
    {
        Gen<E> A() => Expr(c, t, vary, depth);
        Gen<string> Owner(string m) => One(Owners(t, m));
        return Pick(
            (4, () => Gen.Select(One(new[] { "Sqrt", "Abs" }), Gen.Int[0, 2], A(), (m, o, a) => E.Call(Owners(t, m)[o % Owners(t, m).Length] + "." + m, t, null, a))),
            (1, () => Gen.Select(One(new[] { "Exp", "Log" }), Owner("Exp"), A(), (m, o, a) => E.Call(o + "." + m, t, a.Varying ? "ulp" : null, a))),
            // KernelMath.Exp/Log: what the loops compute for every Exp/Log, so bit for bit.
            (1, () => Gen.Select(One(new[] { "Exp", "Log" }), A(), (m, a) => E.Call("KernelMath." + m, t, null, a))),
            // A step-invariant operand of Max/Min is tagged: .NET 10's JIT folds Math.Min(-0f, x) with a constant -0 (also
            // one Roslyn folded, like -((float)0)) to +0 for x = +0 in the scalar rule, where IEEE and the vector forms give
            // -0; the generated loops hold the constant in a variable and stay IEEE. Only ±0 results are let through.
            // CopySign is tagged too: it makes a NaN's sign visible, and IEEE leaves that sign to the implementation
            // (x86 scalar and vector code may propagate different NaN operands): results may differ only in sign.
            (4, () => Gen.Select(One(new[] { "Max", "Min", "CopySign" }), Gen.Int[0, 2], A(), A(), (m, o, a, b) => E.Call(Owners(t, m)[o % Owners(t, m).Length] + "." + m, t,
                m == "CopySign" ? "copysign" : !a.Varying || !b.Varying ? "signedzero" : null, a, b))),
            (2, () => Gen.Select(Owner("FusedMultiplyAdd"), A(), A(), A(), (o, a, b, d) => E.Call(o + ".FusedMultiplyAdd", t, null, a, b, d))),
            (2, () => Gen.Select(Owner("Clamp"), A(), A(), A(), (o, a, b, d) => E.Call(o + ".Clamp", t, a.Varying || b.Varying || d.Varying ? "clamp" : null, a, b, d))),
            // Sign returns int: either cast back ((float)Math.Sign(g)) or multiplied as in lr * MathF.Sign(g).
            (1, () => Gen.Select(Owner("Sign"), A(), Gen.Bool, (o, a, cast) => cast
                ? E.Cast(t, E.Call(o + ".Sign", Ty.Int, a.Varying ? "sign" : null, a))
                : E.Bin("*", t, E.Lit(t == Ty.Float ? "1f" : "1.0", t), E.Call(o + ".Sign", Ty.Int, a.Varying ? "sign" : null, a)))),
            (c.O.Future ? 1 : 0, () => Gen.Select(Gen.Bool, A(), Gen.Int[2, 3], (f, a, n) => E.Call((t == Ty.Float && f ? "MathF" : "Math") + ".Pow", t == Ty.Float && f ? t : Ty.Double, a.Varying ? "pow" : null, a, E.Lit(n.ToString(), Ty.Int)))
                .Select(e => e.Type == t ? e : E.Cast(t, e))),
            // KernelMath.Pow: the generated loops' own definition, so bit for bit.
            (1, () => Gen.Select(A(), Gen.Int[0, 4], (a, n) => E.Call("KernelMath.Pow", t, null, a, E.Lit(n.ToString(), Ty.Int)))),
            (c.O.Future ? 1 : 0, () => A().Select(a => E.Call("Sq", t, a.Varying ? "future:user helper per element" : "helper", a))));
    }

    // ---- Statements -------------------------------------------------------------------------------------
    private static Gen<(Stmt, Ctx)> Stmt(Ctx c)
    {
        Ty elem = c.Elem;
        Ty other = elem == Ty.Float ? Ty.Double : Ty.Float;
        Var[] buffers = c.Vars.Where(v => v.Buffer && v.Assignable).ToArray();
        Var[] varyingLocals = c.Vars.Where(v => !v.Buffer && v.Varying && v.Assignable).ToArray();
        Var[] realTargets = buffers.Concat(varyingLocals.Where(v => v.Type is Ty.Float or Ty.Double)).ToArray();
        Var[] uniformTargets = c.InVaryingBranch ? Array.Empty<Var>() : c.Vars.Where(v => !v.Varying && v.Assignable && !c.Frozen.Contains(v.Name)).ToArray();
        bool deep = c.Depth > 0;
        bool uniformContext = !c.InVaryingBranch;
        Var[] ints = c.Vars.Where(v => v.Type == Ty.Int && !v.Varying).ToArray();
        Var[] uniformReals = c.Vars.Where(v => v.Type is Ty.Float or Ty.Double && !v.Varying).ToArray();
        bool templates = c.O.Templates && uniformContext;

        return Pick(
            (4, () => Decl(c, Gen.Frequency((6, Gen.Const(elem)), (1, Gen.Const(other)), (2, Gen.Const(Ty.Bool))), vary: true)),
            (3, () => Decl(c, One(new[] { Ty.Float, Ty.Double, Ty.Int, Ty.Long, Ty.Bool }), vary: false)),
            (realTargets.Length > 0 ? 8 : 0, () => One(realTargets).SelectMany(v => Gen.Select(One(new[] { "=", "+=", "-=", "*=", "/=" }), Expr(c, v.Type, true, 3),
                (op, e) => ((Stmt)new AssignStmt(v.Name, op, e), c.ReadsAlways(e))))),
            (varyingLocals.Any(v => v.Type == Ty.Bool) ? 1 : 0, () => One(varyingLocals.Where(v => v.Type == Ty.Bool).ToArray()).SelectMany(v =>
                Expr(c, Ty.Bool, true, 2).Select(e => ((Stmt)new AssignStmt(v.Name, "=", e), c.ReadsAlways(e))))),
            (realTargets.Length > 0 ? 1 : 0, () => Gen.Select(One(realTargets), Gen.Bool, Gen.Bool, (v, inc, pre) => ((Stmt)new IncDecStmt(v.Name, inc ? "++" : "--", pre), c))),
            (uniformTargets.Length > 0 ? 1 : 0, () => One(uniformTargets).SelectMany(v => Gen.Select(One(v.Type == Ty.Bool ? new[] { "=" } : new[] { "=", "+=", "-=", "*=" }), Expr(c, v.Type, false, 2),
                (op, e) => ((Stmt)new AssignStmt(v.Name, op, e), c)))),
            (deep ? 4 : 0, () => If(c, Expr(c, Ty.Bool, true, 2))),
            (deep ? 3 : 0, () => If(c, Expr(c, Ty.Bool, false, 2))),
            (templates ? 1 : 0, () => Validation(c)),
            (templates ? 1 : 0, () => UniformLoop(c)),
            (templates ? 1 : 0, () => Goto(c)),
            (templates ? 1 : 0, () => TimeSpanTicks(c)),
            (templates ? 1 : 0, () => Switch(c)),
            (templates && ints.Length > 0 && deep ? 2 : 0, () => One(ints).SelectMany(k => GuardedBlock(c, k.Name + " != 0", new DeclStmt(Ty.Int, c.Fresh("q"), E.Raw("100 / " + k.Name, Ty.Int, false))))),
            (templates && uniformReals.Any(v => v.Type == Ty.Float) && deep ? 1 : 0, () => One(uniformReals.Where(v => v.Type == Ty.Float).ToArray()).SelectMany(x =>
                GuardedBlock(c, "!float.IsNaN(" + x.Name + ")", new DeclStmt(Ty.Float, c.Fresh("sg"), E.Raw("(float)Math.Sign(" + x.Name + ")", Ty.Float, false))))),
            (templates && uniformReals.Length > 0 && deep ? 1 : 0, () => Gen.Select(One(uniformReals), Expr(c, Ty.Float, false, 1), Expr(c, Ty.Float, false, 1), (x, lo, hi) => (x, lo, hi)).SelectMany(t =>
                GuardedBlock(c, lo(t.lo) + " <= " + lo(t.hi), new DeclStmt(Ty.Float, c.Fresh("cl"), E.Raw("Math.Clamp(" + (t.x.Type == Ty.Float ? t.x.Name : "(float)" + t.x.Name) + ", " + t.lo.Print() + ", " + t.hi.Print() + ")", Ty.Float, false))))),
            (templates && c.O.Future ? 1 : 0, () => Tuple(c)));

        static string lo(E e) => "(" + e.Print() + ")";
    }

    private static Gen<(Stmt, Ctx)> Decl(Ctx c, Gen<Ty> type, bool vary) =>
        Gen.Select(type, Name(Array.Empty<string>()), (t, n) => (t, n)).SelectMany(x => Expr(c, x.t, vary && x.t is Ty.Float or Ty.Double or Ty.Bool, 3).Select(e =>
        {
            string name = c.Fresh(x.n);
            return ((Stmt)new DeclStmt(x.t, name, e), c.Reads(e).Declare(new Var(name, x.t, e.Varying || c.InVaryingBranch, Assignable: true)));
        }));

    private static Gen<ImmutableArray<Stmt>> Stmts(Ctx c, int count)
    {
        if (count == 0)
            return Gen.Const(ImmutableArray<Stmt>.Empty);
        return Stmt(c).SelectMany(x => Stmts(x.Item2, count - 1).Select(rest => rest.Insert(0, x.Item1)));
    }

    /// <summary>Statements and the scope after them (for the caller to keep reserved names and frozen variables).</summary>
    private static Gen<(ImmutableArray<Stmt>, Ctx)> StmtsWithCtx(Ctx c, int count)
    {
        if (count == 0)
            return Gen.Const((ImmutableArray<Stmt>.Empty, c));
        return Stmt(c).SelectMany(x => StmtsWithCtx(x.Item2, count - 1).Select(rest => (rest.Item1.Insert(0, x.Item1), rest.Item2)));
    }

    private static Gen<(Stmt, Ctx)> If(Ctx c, Gen<E> cond) => cond.SelectMany(e =>
    {
        Ctx inner = c.Reads(e) with { InVaryingBranch = c.InVaryingBranch || e.Varying, Depth = c.Depth - 1 };
        // Sometimes the same local is declared at the top of both arms (legal C#; hoisting must not merge them).
        return Gen.Select(Gen.Int[0, 9], Gen.Int[1, 3], Gen.Int[0, 3], Name(Array.Empty<string>()), Expr(inner, inner.Elem, !e.Varying || true, 2), Expr(inner, inner.Elem, true, 2),
            (shape, nThen, nElse, n, i1, i2) => (shape, nThen, nElse, n, i1, i2)).SelectMany(s =>
        {
            string shared = inner.Fresh(s.n);
            bool both = s.shape < 2;
            Ctx thenCtx = both ? inner.Reads(s.i1).Declare(new Var(shared, inner.Elem, s.i1.Varying || inner.InVaryingBranch, true)) : inner;
            Ctx elseCtx = both ? inner.Reads(s.i2).Declare(new Var(shared, inner.Elem, s.i2.Varying || inner.InVaryingBranch, true)) : inner;
            return StmtsWithCtx(thenCtx, s.nThen).SelectMany(t =>
            {
                Ctx afterThen = c.AfterBlock(t.Item2);
                // else-branch names must not collide with then-branch names either (except the shared one).
                Ctx elseStart = elseCtx with { Names = elseCtx.Names.Union(t.Item2.Names), Frozen = elseCtx.Frozen.Union(t.Item2.Frozen) };
                Gen<(ImmutableArray<Stmt>?, Ctx)> elseGen = s.shape switch
                {
                    _ when both => StmtsWithCtx(elseStart, Math.Max(1, s.nElse)).Select(x => ((ImmutableArray<Stmt>?)x.Item1, x.Item2)),
                    < 4 => Gen.Const(((ImmutableArray<Stmt>?)null, elseStart)),
                    < 7 => StmtsWithCtx(elseStart, Math.Max(1, s.nElse)).Select(x => ((ImmutableArray<Stmt>?)x.Item1, x.Item2)),
                    _ => If(elseStart, Expr(elseStart, Ty.Bool, true, 2)).Select(x => ((ImmutableArray<Stmt>?)ImmutableArray.Create(x.Item1), x.Item2)),
                };
                return elseGen.Select(el =>
                {
                    ImmutableArray<Stmt> thenStmts = both ? t.Item1.Insert(0, new DeclStmt(inner.Elem, shared, s.i1)) : t.Item1;
                    ImmutableArray<Stmt>? elseStmts = both ? el.Item1!.Value.Insert(0, new DeclStmt(inner.Elem, shared, s.i2)) : el.Item1;
                    return ((Stmt)new IfStmt(e, thenStmts, elseStmts), afterThen.AfterBlock(el.Item2));
                });
            });
        });
    });

    /// <summary><c>if (guard) { decl; …per-element code… }</c>: uniform work that is only valid when the guard holds.</summary>
    private static Gen<(Stmt, Ctx)> GuardedBlock(Ctx c, string guard, DeclStmt decl)
    {
        Ctx inner = c.Declare(new Var(decl.Name, decl.Type, false, false)) with { Depth = c.Depth - 1 };
        return Gen.Int[1, 3].SelectMany(n => StmtsWithCtx(inner, n).Select(x =>
        {
            // Make sure the guarded value reaches per-element code.
            Var? buffer = c.Vars.FirstOrDefault(v => v.Buffer && v.Assignable);
            ImmutableArray<Stmt> body = x.Item1.Insert(0, decl);
            if (buffer is not null)
                body = body.Add(new AssignStmt(buffer.Name, "+=", E.Bin("*", c.Elem, E.Var(buffer.Name, c.Elem, true), Cast(decl, c.Elem))));
            return ((Stmt)new IfStmt(E.Raw(guard, Ty.Bool, false), body, null), c.AfterBlock(x.Item2));
        }));
    }

    private static E Cast(DeclStmt d, Ty to) => d.Type == to ? E.Var(d.Name, d.Type, false) : E.Cast(to, E.Var(d.Name, d.Type, false));

    private static Gen<(Stmt, Ctx)> Validation(Ctx c)
    {
        Var[] reals = c.Vars.Where(v => v.Type is Ty.Float or Ty.Double && !v.Varying && !v.Buffer).ToArray();
        Var[] ints = c.Vars.Where(v => v.Type == Ty.Int && !v.Varying).ToArray();
        if (reals.Length == 0 && ints.Length == 0)
            return TimeSpanTicks(c);
        Var[] all = reals.Concat(ints).ToArray();
        // A local or parameter called nameof turns nameof(x) into a call: fall back to the name as a string.
        string NameOf(Var v) => c.Names.Contains("nameof") ? "\"" + v.Name.TrimStart('@') + "\"" : "nameof(" + v.Name + ")";
        // nameof(x) stays nameof only if no later local takes the name: reserve it.
        Ctx after = c with { Names = c.Names.Add("nameof") };
        return Gen.Select(One(all), Gen.Int[0, 3], (v, form) => form switch
        {
            0 => ((Stmt)new RawStmt("if (" + v.Name + " < 0) throw new ArgumentOutOfRangeException(" + NameOf(v) + ");"), after),
            1 => (new RawStmt("if (" + v.Name + " > 1000) throw new ArgumentException(\"too large\", " + NameOf(v) + ");"), after),
            2 when c.O.Future => (new RawStmt("ArgumentOutOfRangeException.ThrowIfNegative(" + v.Name + ");", "future:throw helper in uniform code"), c),
            _ => (new RawStmt("if (!(" + v.Name + " >= 0)) throw new InvalidOperationException();"), c),
        });
    }

    private static Gen<(Stmt, Ctx)> UniformLoop(Ctx c)
    {
        string acc = c.Fresh("acc"), j = c.Fresh("j");
        Ctx after = c with { Names = c.Names.Add(j) };
        Var[] ints = c.Vars.Where(v => v.Type == Ty.Int && !v.Varying).ToArray();
        string bound = ints.Length > 0 ? ints[0].Name : "3";
        return Gen.Select(Expr(c, Ty.Float, false, 1), Gen.Bool, (e, isFor) =>
        {
            string text = isFor
                ? $"float {acc} = 1f;\nfor (int {j} = 0; {j} < {bound} && {j} < 6; {j}++)\n    {acc} *= {Paren(e)};"
                : $"float {acc} = 1f;\nint {j} = 0;\nwhile ({j} < {bound} && {j} < 6)\n{{\n    {acc} = {acc} * {Paren(e)} + 0.5f;\n    {j}++;\n}}";
            return ((Stmt)new RawStmt(text), after.Declare(new Var(acc, Ty.Float, false, false)));
        });
    }

    private static string Paren(E e) => "(" + e.Print() + ")";

    private static Gen<(Stmt, Ctx)> Goto(Ctx c)
    {
        string n = c.Fresh("c"), label = c.Fresh("again");
        Var[] ints = c.Vars.Where(v => v.Type == Ty.Int && !v.Varying).ToArray();
        string bound = ints.Length > 0 ? ints[0].Name : "3";
        string text = $"int {n} = 0;\n{label}:\n{n}++;\nif ({n} < {bound} && {n} < 5)\n    goto {label};";
        return Gen.Const(((Stmt)new RawStmt(text, "expect:KRN0110"), (c with { Names = c.Names.Add(label) }).Declare(new Var(n, Ty.Int, false, false))));
    }

    private static Gen<(Stmt, Ctx)> TimeSpanTicks(Ctx c)
    {
        string n = c.Fresh("ticks");
        return Gen.Const(((Stmt)new RawStmt($"long {n} = default(TimeSpan).Ticks + 1;"), c.Declare(new Var(n, Ty.Long, false, false))));
    }

    private static Gen<(Stmt, Ctx)> Switch(Ctx c)
    {
        Var[] ints = c.Vars.Where(v => v.Type == Ty.Int && !v.Varying).ToArray();
        if (ints.Length == 0)
            return TimeSpanTicks(c);
        string s = c.Fresh("sw");
        Var? buffer = c.Vars.FirstOrDefault(v => v.Buffer && v.Assignable);
        Var? input = c.Vars.FirstOrDefault(v => v.Buffer);
        return Gen.Select(One(ints), Expr(c, Ty.Float, false, 1), Expr(c, Ty.Float, false, 1), Gen.Int[0, 3], (k, a, b, form) =>
        {
            if (form == 0 && c.O.Future && buffer is not null && input is not null)
            {
                // Per-element code inside a uniform switch: accepted by the future generator.
                string text = $"switch ({k.Name})\n{{\n    case 0:\n        {buffer.Name} -= {input.Name};\n        break;\n    case 1:\n        {buffer.Name} *= {CastTo(a, c.Elem)};\n        break;\n    default:\n        {buffer.Name} += {input.Name} * {CastTo(b, c.Elem)};\n        break;\n}}";
                return ((Stmt)new RawStmt(text, "future:uniform switch with per-element code"), c.Reads(E.Cond(E.Raw("x", Ty.Bool, true), a, b)));
            }
            string t = $"float {s};\nswitch ({k.Name})\n{{\n    case 0:\n        {s} = {a.Print()};\n        break;\n    case 1:\n    case 2:\n        {s} = {b.Print()};\n        break;\n    default:\n        {s} = 0.25f;\n        break;\n}}";
            return ((Stmt)new RawStmt(t), c.Declare(new Var(s, Ty.Float, false, false)));
        });
    }

    private static string CastTo(E e, Ty t) => e.Type == t ? Paren(e) : "(" + TypeName(t) + ")" + Paren(e);

    private static Gen<(Stmt, Ctx)> Tuple(Ctx c)
    {
        string a = c.Fresh("ta"), b = c.Fresh("tb" + a.Length);
        return Gen.Select(Expr(c, Ty.Float, false, 1), Expr(c, Ty.Float, false, 1), (x, y) =>
            ((Stmt)new RawStmt($"float {a} = {x.Print()};\nfloat {b} = {y.Print()};\n({a}, {b}) = ({b}, {a});", "future:tuple assignment in uniform code"),
             c.Declare(new Var(a, Ty.Float, false, false)).Declare(new Var(b, Ty.Float, false, false))));
    }

    // ---- Declarations -------------------------------------------------------------------------------------
    private static readonly string[] s_kinds = { "class", "struct", "record", "record struct" };

    private static Gen<TypeDecl> TypeDeclGen => Gen.Select(One(s_typeNames), One(s_kinds), Gen.Bool,
        (n, k, st) => new TypeDecl(k, n, st && k == "class"));

    private static Gen<string?> NamespaceGen => Gen.Frequency((3, Gen.Const<string?>((string?)null)), (5, One(s_namespaces).Select(s => (string?)s)));

    private static readonly string[] s_floatDefaults = { "1e-3f", "0.9f", "0f", "-1f", "float.NaN", "float.MaxValue", "-0f", "1E-45f", "default", "1", "float.PositiveInfinity" };
    private static readonly string[] s_doubleDefaults = { "0.5", "1e-8", "double.NaN", "double.Epsilon", "-0.0", "default", "1e308", "2" };
    private static readonly string[] s_intDefaults = { "0", "1", "-3", "int.MaxValue", "int.MinValue", "default" };
    private static readonly string[] s_longDefaults = { "0L", "1L", "long.MinValue", "default", "5" };

    private static Gen<string> Default(Ty t) => t switch
    {
        Ty.Float => One(s_floatDefaults),
        Ty.Double => One(s_doubleDefaults),
        Ty.Int => One(s_intDefaults),
        Ty.Long => One(s_longDefaults),
        _ => One(new[] { "true", "false", "default" }),
    };

    /// <summary>A valid rule (valid for the future generator when <paramref name="o"/> allows future constructs).</summary>
    public static Gen<Rule> RuleGen(GrammarOptions o) =>
        Gen.Select(NamespaceGen, Gen.Int[1, 3], One(s_methodNames), Gen.Frequency((4, Gen.Const(Ty.Float)), (1, Gen.Const(Ty.Double))), (ns, depth, method, elem) => (ns, depth, method, elem))
        .SelectMany(h => Gen.Select(TypeDeclGen.Array[h.depth], Gen.Int[1, 5], Gen.Int[0, 5], (types, nBuf, nUni) => (h, types, nBuf, nUni)))
        .SelectMany(h2 =>
        {
            string methodPlain = h2.h.method.TrimStart('@');
            string[] extra = { methodPlain + "Kernel", methodPlain + "Gpu", methodPlain + "Inputs" };
            return Gen.Select(
                Gen.Select(Name(extra), Gen.Bool, Gen.Int[0, 9], (n, isRef, suffix) => (n, isRef, suffix)).Array[h2.nBuf],
                Gen.Select(Name(extra), One(new[] { Ty.Float, Ty.Double, Ty.Int, Ty.Long, Ty.Bool }), Gen.Bool, Gen.Int[0, 20], (n, t, hasDefault, d) => (n, t, hasDefault, d)).Array[h2.nUni],
                (bufs, unis) => (h2, bufs, unis));
        })
        .SelectMany(h3 =>
        {
            var (h2, bufs, unis) = h3;
            var (h, typeArray, _, _) = h2;
            // Names must be unique in the rule; the type chain must not reuse a name (CS0542) nor the method name.
            ImmutableArray<TypeDecl> types = UniqueTypes(typeArray, h.method);
            var names = ImmutableHashSet.Create(h.method.TrimStart('@'), h.method);
            var prms = new List<Param>();
            ImmutableHashSet<string> reserved = names;
            string Unique(string n)
            {
                string m = n;
                for (int i = 1; reserved.Contains(m) || reserved.Contains(m.TrimStart('@')) || types.Any(t => t.Name.TrimStart('@') == m.TrimStart('@')); i++)
                    m = n + i;
                reserved = reserved.Add(m).Add(m.TrimStart('@'));
                return m;
            }
            for (int i = 0; i < bufs.Length; i++)
            {
                // Sometimes a name the generator derives from another buffer ("<name>Ref").
                string n = i > 0 && bufs[i].suffix == 0 ? prms[0].Name.TrimStart('@') + "Ref" : bufs[i].n;
                prms.Add(new Param(Unique(n), i == 0 || bufs[i].isRef ? ParamKind.Ref : ParamKind.In, h.elem, null,
                    NonNegative: i > 0 && bufs[i].isRef && bufs[i].suffix == 3));
            }
            var required = new List<Param>();
            var optional = new List<Param>();
            foreach (var u in unis)
            {
                var p = new Param(Unique(u.n), ParamKind.Uniform, u.t, null);
                if (u.hasDefault)
                    optional.Add(p with { Default = DefaultText(u.t, u.d) });
                else
                    required.Add(p);
            }
            return Gen.Int[0, 3].SelectMany(order =>
            {
                // Required uniforms may come before, between or after the buffers; defaults must come last.
                List<Param> all = order switch
                {
                    0 => required.Concat(prms).ToList(),
                    1 when prms.Count > 1 => prms.Take(1).Concat(required).Concat(prms.Skip(1)).ToList(),
                    _ => prms.Concat(required).ToList(),
                };
                all.AddRange(optional);
                var ctx = new Ctx(h.elem, ImmutableList<Var>.Empty, reserved, ImmutableHashSet<string>.Empty, false, 2, o);
                foreach (Param p in all)
                    ctx = ctx.Declare(new Var(p.Name, p.Type, p.Kind != ParamKind.Uniform, p.Kind == ParamKind.Ref, Buffer: p.Kind != ParamKind.Uniform));
                return Gen.Select(Gen.Int[0, 6], Gen.Int[0, 9], (n, shape) => (n, shape)).SelectMany(b => StmtsWithCtx(ctx, b.n).SelectMany(body =>
                    FinalWrite(body.Item2, prms[0], b.shape).Select(fin =>
                    {
                        ImmutableArray<Stmt> stmts = body.Item1.AddRange(fin);
                        // Templates print expressions into raw text, so look for the call in the printed body.
                        bool helpers = new Rule(null, types, h.method, h.elem, all.ToImmutableArray(), stmts).Print().Contains("Sq(", StringComparison.Ordinal);
                        return new Rule(h.ns, types, h.method, h.elem, all.ToImmutableArray(), stmts,
                            ExpressionBodied: stmts.Length == 1 && b.shape == 0, Helpers: helpers);
                    })));
            });
        });

    private static string DefaultText(Ty t, int pick) => t switch
    {
        Ty.Float => s_floatDefaults[pick % s_floatDefaults.Length],
        Ty.Double => s_doubleDefaults[pick % s_doubleDefaults.Length],
        Ty.Int => s_intDefaults[pick % s_intDefaults.Length],
        Ty.Long => s_longDefaults[pick % s_longDefaults.Length],
        _ => new[] { "true", "false", "default" }[pick % 3],
    };

    private static ImmutableArray<TypeDecl> UniqueTypes(TypeDecl[] types, string method)
    {
        var result = new List<TypeDecl>();
        foreach (TypeDecl t in types)
        {
            TypeDecl u = t;
            for (int i = 1; result.Any(r => r.Name.TrimStart('@') == u.Name.TrimStart('@')) || u.Name.TrimStart('@') == method.TrimStart('@'); i++)
                u = t with { Name = t.Name.TrimStart('@') + i };
            result.Add(u);
        }
        return result.ToImmutableArray();
    }

    /// <summary>The rule's last write to its first buffer: plain, or only under a uniform condition (the buffer may go untouched).</summary>
    private static Gen<ImmutableArray<Stmt>> FinalWrite(Ctx c, Param first, int shape)
    {
        Var[] bools = c.Vars.Where(v => v.Type == Ty.Bool && !v.Varying).ToArray();
        return Expr(c, c.Elem, true, 3).SelectMany(e =>
        {
            var write = new AssignStmt(first.Name, shape % 2 == 0 ? "-=" : "=", e);
            if (shape >= 7)
                return Expr(c, Ty.Bool, false, 1).Select(cond => ImmutableArray.Create<Stmt>(new IfStmt(bools.Length > 0 ? E.Var(bools[0].Name, Ty.Bool, false) : cond, ImmutableArray.Create<Stmt>(write), null)));
            return Gen.Const(ImmutableArray.Create<Stmt>(write));
        });
    }

    /// <summary>A batch of rules for one compilation.</summary>
    public static Gen<Rule[]> Batch(GrammarOptions o, int size) => RuleGen(o).Array[size];
}

/// <summary>Valid host rules with exactly one unsupported construct injected, marked <c>[|…|]</c> where its documented diagnostic belongs.</summary>
public static class UnsupportedGrammar
{
    /// <summary>(ID, template). Placeholders: {p} a ref buffer, {g} an element parameter, {u} a uniform of the element type, {T} the element type, {M} MathF/Math, {h} 0.5 literal.</summary>
    private static readonly (string Id, string Template)[] s_body =
    {
        ("KRN0101", "[|for|] (int injJ = 0; injJ < 2; injJ++)\n    {p} -= {g};"),
        ("KRN0101", "[|while|] ({p} > 100)\n    {p} *= {h};"),
        ("KRN0102", "[|return;|]"),
        ("KRN0102", "if ({u} > 0)\n    [|return;|]"),
        ("KRN0103", "if ({g} > 0)\n    [|throw new InvalidOperationException();|]"),
        ("KRN0103", "[|try { {p} -= {g}; } finally { }|]"),
        ("KRN0104", "{p} -= [|{M}.Tanh({g})|];"),
        ("KRN0104", "{p} = [|{M}.Cbrt({g} * {p})|] + {u};"),
        ("KRN0105", "[|ref {T} injR = ref {p};|]\ninjR -= {g};"),
        ("KRN0106", "{p} -= {g} * [|new {T}[] { {u} }|][0];"),
        ("KRN0107", "{p} = {p} [|%|] {g};"),
        ("KRN0108", "int [|injK = (int){g}|];\n{p} -= injK;"),
        ("KRN0108", "string [|injS = {g} > 0 ? \"a\" : \"b\"|];\n{p} -= injS.Length;"),
        ("KRN0110", "[|switch ({g} > 0) { case true: {p} -= {g}; break; }|]"),
        ("KRN0111", "{p} -= [|{g} is > 0|] ? {u} : 0;"),
        ("KRN0113", "[|Console.WriteLine({g})|];"),
        ("KRN0113", "[|Console.WriteLine({u});|]"),
        ("KRN0118", "if ({g} > 0)\n    {p} -= [|Reduce.Sum({g})|];"),
        ("KRN0118", "{p} -= {g} > 0 ? [|Reduce.Max({g})|] : {h};"),
        ("KRN0118", "{T} injA = Reduce.Sum({g});\n{p} -= [|Reduce.Sum({g} - injA)|];"),
        ("KRN0118", "{p} -= ({T})[|Reduce.Sum(({O}){g})|];"),
    };

    private static readonly string[] s_declaration = { "KRN0001", "KRN0002", "KRN0003", "KRN0007", "KRN0008" };

    public static Gen<(Rule Rule, string Id)> Case => Gen.Select(RuleGrammar.RuleGen(GrammarOptions.Host), Gen.Int[0, s_body.Length + s_declaration.Length - 1], Gen.Int[0, 1000], (host, which, pos) => Inject(host, which, pos)).Select(x => (x.Item1 with { ExpectedId = x.Item2 }, x.Item2));

    private static (Rule, string) Inject(Rule host, int which, int pos)
    {
        host = host with { ExpressionBodied = false };
        string T = RuleGrammar.TypeName(host.Elem);
        Param[] buffers = host.Params.Where(p => p.Kind != ParamKind.Uniform).ToArray();
        string p = buffers.First(b => b.Kind == ParamKind.Ref).Name;
        string g = (buffers.FirstOrDefault(b => b.Kind == ParamKind.In) ?? buffers[pos % buffers.Length]).Name;
        Param? uniform = host.Params.FirstOrDefault(x => x.Kind == ParamKind.Uniform && (x.Type == host.Elem || x.Type == Ty.Float));
        if (which < s_body.Length)
        {
            var (id, template) = s_body[which];
            if (uniform is null)
            {
                // The uniform-dependent templates need a parameter: add one.
                uniform = new Param("injU", ParamKind.Uniform, host.Elem, null);
                host = host with { Params = host.Params.Insert(host.Params.TakeWhile(x => x.Default is null).Count(), uniform) };
            }
            string text = template.Replace("{p}", p).Replace("{g}", g).Replace("{u}", uniform.Name).Replace("{T}", T)
                .Replace("{M}", host.Elem == Ty.Float ? "MathF" : "Math").Replace("{O}", host.Elem == Ty.Float ? "double" : "float").Replace("{h}", host.Elem == Ty.Float ? "0.5f" : "0.5");
            int at = id == "KRN0102" ? host.Body.Length : pos % (host.Body.Length + 1);
            return (host with { Body = host.Body.Insert(at, new RawStmt(text)) }, id);
        }
        string decl = s_declaration[which - s_body.Length];
        int type = pos % host.Types.Length;
        switch (decl)
        {
            case "KRN0001":
                return (host with { Types = host.Types.SetItem(type, host.Types[type] with { Partial = false, Marked = true }) }, decl);
            case "KRN0008":
                return (host with { Types = host.Types.SetItem(type, host.Types[type] with { Generic = true, Marked = true }) }, decl);
            case "KRN0002":
                // An instance method needs a non-static type.
                int last = host.Types.Length - 1;
                return (host with { Static = false, MarkMethod = true, Types = host.Types.SetItem(last, host.Types[last] with { Static = false }) }, decl);
            case "KRN0003":
                return (host with { ReturnType = "[|" + T + "|]", Body = host.Body.Add(new RawStmt("return 0;")) }, decl);
            default:
                var o = new Param("injO", ParamKind.Out, host.Elem, null, Marked: true);
                return (host with
                {
                    Params = host.Params.Insert(host.Params.TakeWhile(x => x.Default is null).Count(), o),
                    Body = host.Body.Insert(0, new RawStmt("injO = 0;")),
                }, decl);
        }
    }
}

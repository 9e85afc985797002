using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using Kernels.Generator.Helpers;

namespace Kernels.Generator.Model;

/// <summary>
/// A rule's model as text, for the <c>[assembly: RulePlan(…)]</c> attribute: another compilation (one that
/// references ILGPU and Kernels.Gpu) reads it back and emits the GPU launchers of a rule it has no source for.
/// <para>
/// Format (deterministic, versioned, hand-written: no serializer dependency in a netstandard2.0 analyzer):
/// <c>KRP</c> and the format version, then the fields in declaration order, each a token:
/// a string is <c>length:chars</c> (or <c>~</c> for null), an int or count is <c>digits;</c>, a bool is <c>1</c>/<c>0</c>,
/// an enum is its member name as a string, a list is its count followed by its items, and an IR node is a
/// one-letter tag followed by its fields. A reader of another version rejects the text (it never guesses).
/// </para>
/// </summary>
internal static class RuleSpecSerializer
{
    /// <summary>Bump on any change to the model's shape or meaning: a plan of another version is ignored.</summary>
    public const int Version = 3;

    private const string Magic = "KRP";

    public static string Serialize(RuleSpec spec)
    {
        var w = new Writer();
        w.Raw(Magic);
        w.Int(Version);
        w.String(spec.Namespace);
        w.List(spec.ContainingTypes, (w2, t) =>
        {
            w2.String(t.Keyword);
            w2.String(t.Name);
            w2.Bool(t.IsStatic);
        });
        w.String(spec.MethodName);
        w.String(spec.Accessibility);
        w.Enum(spec.Element);
        w.List(spec.Parameters, (w2, p) =>
        {
            w2.String(p.Name);
            w2.Enum(p.Role);
            w2.String(p.TypeName);
            w2.String(p.DefaultValue);
            w2.String(p.Modifier);
            w2.Bool(p.IsRead);
            w2.Bool(p.IsWritten);
            w2.String(p.Guard);
            w2.Enum(p.Storage);
        });
        w.List(spec.Prologue, (w2, s) => w2.String(s));
        w.List(spec.KernelInputs, (w2, k) =>
        {
            w2.String(k.Name);
            w2.Enum(k.Type);
        });
        w.List(spec.Body, WriteStmt);
        w.String(spec.ScalarSignature);
        w.List(spec.TakenNames, (w2, s) => w2.String(s));
        w.Bool(spec.HasErrors);
        w.String(spec.FaultName);
        w.Bool(spec.ExportsPlan);
        w.List(spec.Reductions, (w2, r) =>
        {
            w2.String(r.Input);
            w2.String(r.Output);
            w2.Bool(r.IsMax);
        });
        w.List(spec.ReductionBody, WriteStmt);
        return w.ToString();
    }

    /// <summary>Reads a plan back; null when it is of another format version or malformed (never throws).</summary>
    public static RuleSpec? TryDeserialize(string? text)
    {
        if (text is null || !text.StartsWith(Magic, StringComparison.Ordinal))
            return null;
        try
        {
            var r = new Reader(text, Magic.Length);
            if (r.Int() != Version)
                return null;
            var spec = new RuleSpec(
                Namespace: r.String(),
                ContainingTypes: r.List(r2 => new ContainingTypeSpec(r2.NonNullString(), r2.NonNullString(), r2.Bool())),
                MethodName: r.NonNullString(),
                Accessibility: r.NonNullString(),
                Element: r.Enum<ScalarType>(),
                Parameters: r.List(r2 => new ParameterSpec(
                    Name: r2.NonNullString(),
                    Role: r2.Enum<ParameterRole>(),
                    TypeName: r2.NonNullString(),
                    DefaultValue: r2.String(),
                    Modifier: r2.NonNullString(),
                    IsRead: r2.Bool(),
                    IsWritten: r2.Bool(),
                    Guard: r2.String(),
                    Storage: r2.Enum<ScalarType>())),
                Prologue: r.List(r2 => r2.NonNullString()),
                KernelInputs: r.List(r2 => new KernelInputSpec(r2.NonNullString(), r2.Enum<ScalarType>())),
                Body: r.List(ReadStmt),
                ScalarSignature: r.NonNullString(),
                TakenNames: r.List(r2 => r2.NonNullString()),
                HasErrors: r.Bool(),
                FaultName: r.String(),
                ExportsPlan: r.Bool(),
                Reductions: r.List(r2 => new ReductionSpec(r2.NonNullString(), r2.NonNullString(), r2.Bool())),
                ReductionBody: r.List(ReadStmt));
            r.End();
            return spec;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    // ---- IR ---------------------------------------------------------------------------------

    private static void WriteStmt(Writer w, ElementStmt statement)
    {
        switch (statement)
        {
            case AssignStmt a:
                w.Raw("A");
                w.String(a.Target);
                w.Bool(a.Declares);
                w.Enum(a.Kind);
                WriteExpr(w, a.Value);
                break;
            case DeclareStmt d:
                w.Raw("D");
                w.String(d.Name);
                w.Enum(d.Kind);
                break;
            case UniformIfStmt u:
                w.Raw("U");
                w.String(u.Condition);
                w.List(u.Then, WriteStmt);
                w.List(u.Else, WriteStmt);
                break;
            case ElementIfStmt e:
                w.Raw("E");
                WriteExpr(w, e.Condition);
                w.List(e.Then, WriteStmt);
                w.List(e.Else, WriteStmt);
                break;
            default:
                throw new NotSupportedException("IR statement " + statement.GetType().Name + " has no plan form: add it to RuleSpecSerializer.");
        }
        w.String(statement.Source);
    }

    private static ElementStmt ReadStmt(Reader r)
    {
        char tag = r.Tag();
        switch (tag)
        {
            case 'A':
            {
                string target = r.NonNullString();
                bool declares = r.Bool();
                ValueKind kind = r.Enum<ValueKind>();
                ElementExpr value = ReadExpr(r);
                return new AssignStmt(target, declares, kind, value, r.NonNullString());
            }
            case 'D':
            {
                string name = r.NonNullString();
                ValueKind kind = r.Enum<ValueKind>();
                return new DeclareStmt(name, kind, r.NonNullString());
            }
            case 'U':
            {
                string condition = r.NonNullString();
                EquatableArray<ElementStmt> then = r.List(ReadStmt), otherwise = r.List(ReadStmt);
                return new UniformIfStmt(condition, then, otherwise, r.NonNullString());
            }
            case 'E':
            {
                ElementExpr condition = ReadExpr(r);
                EquatableArray<ElementStmt> then = r.List(ReadStmt), otherwise = r.List(ReadStmt);
                return new ElementIfStmt(condition, then, otherwise, r.NonNullString());
            }
            default:
                throw new FormatException("unknown statement tag " + tag);
        }
    }

    private static void WriteExpr(Writer w, ElementExpr expression)
    {
        switch (expression)
        {
            case ElementRefExpr e:
                w.Raw("r");
                w.String(e.Name);
                break;
            case UniformExpr u:
                w.Raw("u");
                w.String(u.Name);
                break;
            case UnaryExpr u:
                w.Raw("n");
                w.Enum(u.Op);
                WriteExpr(w, u.Operand);
                break;
            case BinaryExpr b:
                w.Raw("b");
                w.Enum(b.Op);
                WriteExpr(w, b.Left);
                WriteExpr(w, b.Right);
                break;
            case CallExpr c:
                w.Raw("c");
                w.Enum(c.Function);
                w.String(c.SourceName);
                w.List(c.Arguments, WriteExpr);
                break;
            case SelectExpr s:
                w.Raw("s");
                WriteExpr(w, s.Condition);
                WriteExpr(w, s.WhenTrue);
                WriteExpr(w, s.WhenFalse);
                break;
            case ConvertExpr c:
                w.Raw("v");
                WriteExpr(w, c.Operand);
                break;
            case UniformSelectExpr s:
                w.Raw("q");
                w.String(s.Condition);
                WriteExpr(w, s.WhenTrue);
                WriteExpr(w, s.WhenFalse);
                break;
            default:
                throw new NotSupportedException("IR node " + expression.GetType().Name + " has no plan form: add it to RuleSpecSerializer.");
        }
        w.Enum(expression.Kind);
    }

    private static ElementExpr ReadExpr(Reader r)
    {
        char tag = r.Tag();
        switch (tag)
        {
            case 'r':
            {
                string name = r.NonNullString();
                return new ElementRefExpr(name, r.Enum<ValueKind>());
            }
            case 'u':
            {
                string name = r.NonNullString();
                return new UniformExpr(name, r.Enum<ValueKind>());
            }
            case 'n':
            {
                UnaryOp op = r.Enum<UnaryOp>();
                ElementExpr operand = ReadExpr(r);
                return new UnaryExpr(op, operand, r.Enum<ValueKind>());
            }
            case 'b':
            {
                BinaryOp op = r.Enum<BinaryOp>();
                ElementExpr left = ReadExpr(r), right = ReadExpr(r);
                return new BinaryExpr(op, left, right, r.Enum<ValueKind>());
            }
            case 'c':
            {
                Intrinsic function = r.Enum<Intrinsic>();
                string sourceName = r.NonNullString();
                EquatableArray<ElementExpr> arguments = r.List(ReadExpr);
                return new CallExpr(function, sourceName, arguments, r.Enum<ValueKind>());
            }
            case 's':
            {
                ElementExpr condition = ReadExpr(r), whenTrue = ReadExpr(r), whenFalse = ReadExpr(r);
                return new SelectExpr(condition, whenTrue, whenFalse, r.Enum<ValueKind>());
            }
            case 'v':
            {
                ElementExpr operand = ReadExpr(r);
                return new ConvertExpr(operand, r.Enum<ValueKind>());
            }
            case 'q':
            {
                string condition = r.NonNullString();
                ElementExpr whenTrue = ReadExpr(r), whenFalse = ReadExpr(r);
                return new UniformSelectExpr(condition, whenTrue, whenFalse, r.Enum<ValueKind>());
            }
            default:
                throw new FormatException("unknown expression tag " + tag);
        }
    }

    // ---- Tokens -----------------------------------------------------------------------------

    private sealed class Writer
    {
        private readonly StringBuilder _text = new();

        public void Raw(string text) => _text.Append(text);

        public void Int(int value) => _text.Append(value.ToString(CultureInfo.InvariantCulture)).Append(';');

        public void Bool(bool value) => _text.Append(value ? '1' : '0');

        public void String(string? value)
        {
            if (value is null)
            {
                _text.Append('~');
                return;
            }
            _text.Append(value.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(value);
        }

        public void Enum<T>(T value) where T : struct, System.Enum => String(value.ToString());

        public void List<T>(EquatableArray<T> items, Action<Writer, T> write) where T : IEquatable<T>
        {
            Int(items.Count);
            foreach (T item in items)
                write(this, item);
        }

        public override string ToString() => _text.ToString();
    }

    private sealed class Reader
    {
        private readonly string _text;
        private int _position;

        public Reader(string text, int position)
        {
            _text = text;
            _position = position;
        }

        private char Next()
        {
            if (_position >= _text.Length)
                throw new FormatException("plan ends early");
            return _text[_position++];
        }

        public char Tag() => Next();

        public int Int()
        {
            int start = _position;
            while (_position < _text.Length && _text[_position] != ';' && _text[_position] != ':')
                _position++;
            if (_position >= _text.Length || _position == start)
                throw new FormatException("number expected at " + start);
            string digits = _text.Substring(start, _position - start);
            _position++; // ';' or ':'
            if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
                throw new FormatException("bad number at " + start);
            return value;
        }

        public bool Bool() => Next() switch
        {
            '1' => true,
            '0' => false,
            char c => throw new FormatException("bool expected, got " + c),
        };

        public string? String()
        {
            if (_position < _text.Length && _text[_position] == '~')
            {
                _position++;
                return null;
            }
            int start = _position;
            int length = Int();
            if (_text[_position - 1] != ':' || _position + length > _text.Length)
                throw new FormatException("string expected at " + start);
            string value = _text.Substring(_position, length);
            _position += length;
            return value;
        }

        public string NonNullString() => String() ?? throw new FormatException("null where a string is required");

        public T Enum<T>() where T : struct, System.Enum
        {
            string name = NonNullString();
            if (!System.Enum.TryParse(name, ignoreCase: false, out T value) || !System.Enum.IsDefined(typeof(T), value))
                throw new FormatException($"unknown {typeof(T).Name} '{name}'");
            return value;
        }

        public EquatableArray<T> List<T>(Func<Reader, T> read) where T : IEquatable<T>
        {
            int count = Int();
            if (_text[_position - 1] != ';' || count > _text.Length)
                throw new FormatException("count expected");
            var items = new T[count];
            for (int i = 0; i < count; i++)
                items[i] = read(this);
            return new EquatableArray<T>(items);
        }

        public void End()
        {
            if (_position != _text.Length)
                throw new FormatException("trailing text at " + _position);
        }
    }
}
